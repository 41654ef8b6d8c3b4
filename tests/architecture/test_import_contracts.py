"""The import-linter contracts of pyproject.toml (run by `make lint`) can fail: each is run
against a copy of src/ with one import that breaks it, and must be the contract broken
(the violations sit in modules no other contract's source reaches: contracts also forbid
indirect imports, so e.g. a violation in resman.models would break the sandbox's too), or
the layers contract beside it when the import also runs back up.

Also: the sandbox's contract forbids every part of the app, including parts added later
(a forbidden-list contract only knows the names written in it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "leadsync"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
#: The codec the sandbox may use (resman.mits is typed in resman.models and raises
#: resman.errors).
CODEC = {"leadsync.resman.mits", "leadsync.resman.models", "leadsync.resman.errors"}


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _lint_imports(cwd: Path) -> tuple[int, dict[str, str]]:
    """Run lint-imports in ``cwd`` (on its src/ copy); its exit code and each contract's
    KEPT/BROKEN verdict by name."""
    env = {**os.environ, "PYTHONPATH": str(cwd / "src"), "COLUMNS": "400"}
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    verdicts = dict(re.findall(r"^(.+?) (KEPT|BROKEN)$", done.stdout, flags=re.MULTILINE))
    return done.returncode, verdicts


LAYERS = "layers"


@pytest.mark.parametrize(
    ("broken", "module", "violation"),
    [
        # Each contract fails alone where it is the only rule a violation breaks, and the
        # layers contract catches every import that runs back up, alone or beside another.
        ({"pure-core"}, "mapping/lead.py", "import httpx2"),
        ({"pure-core", LAYERS}, "merge/values.py", "import leadsync.db.session"),
        ({"pure-core"}, "mapping/status.py", "import leadsync.resman.client"),
        ({"resman-below-engine", LAYERS}, "resman/client.py", "import leadsync.sync.queue.flags"),
        ({"resman-below-engine", LAYERS}, "resman/search.py", "import leadsync.leads.service"),
        ({"sandbox-standalone"}, "sandbox/seed.py", "import leadsync.config"),
        ({"sandbox-standalone"}, "sandbox/state.py", "import leadsync.resman.client"),
        ({"routers-apart"}, "realtime/ws.py", "import leadsync.leads.routes"),
        ({"routers-apart", LAYERS}, "realtime/ws.py", "import leadsync.conflicts.routes"),
        # The sync engine imports nothing of the layers above it: leads, realtime, routers.
        ({LAYERS}, "sync/writeback.py", "import leadsync.leads.service"),
        ({LAYERS}, "sync/push/record.py", "import leadsync.realtime.hub"),
        # The runtime imports the engine's dispatch: through it, a flow would import the runner.
        ({LAYERS, "engine-flows"}, "sync/inbound/apply.py", "import leadsync.runtime"),
        ({LAYERS, "engine-flows"}, "api/deps.py", "import leadsync.runtime"),
        ({"engine-flows"}, "sync/queue/repository.py", "import leadsync.sync.push.send"),
        ({"engine-flows"}, "sync/writeback.py", "import leadsync.sync.inbound.apply"),
        ({"engine-flows"}, "sync/push/send.py", "import leadsync.sync.runner"),
        # A router runs no SQL: its queries live in the domain's services.
        ({"routers-no-sql"}, "sync/pull/routes.py", "from sqlalchemy import select"),
        ({"routers-no-sql"}, "realtime/ws.py", "import sqlalchemy.exc"),
    ],
)
def test_each_contract_fails_when_violated(
    tmp_path: Path, broken: set[str], module: str, violation: str
) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    copy = tmp_path / "src" / "leadsync"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{violation}  # noqa\n")

    code, verdicts = _lint_imports(tmp_path)

    names = {c["id"]: c["name"] for c in _contracts().values()}
    assert code == 1
    assert verdicts == {name: "BROKEN" if key in broken else "KEPT" for key, name in names.items()}


def test_a_type_only_import_of_the_runtime_is_allowed(tmp_path: Path) -> None:
    """The runtime may be named in type hints below it (under TYPE_CHECKING), never imported."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    copy = tmp_path / "src" / "leadsync"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "sync" / "writeback.py"
    target.write_text(
        target.read_text()
        + "\nfrom typing import TYPE_CHECKING  # noqa\n"
        + "if TYPE_CHECKING:\n    import leadsync.runtime  # noqa\n"
    )

    code, verdicts = _lint_imports(tmp_path)

    assert code == 0, verdicts
    assert set(verdicts.values()) == {"KEPT"}


def test_a_type_only_import_of_sqlalchemy_in_a_router_is_allowed(tmp_path: Path) -> None:
    """Routers may name AsyncSession in type hints (their helpers take the request's session)."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    copy = tmp_path / "src" / "leadsync"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "conflicts" / "routes.py"
    target.write_text(
        target.read_text()
        + "\nfrom typing import TYPE_CHECKING  # noqa\n"
        + "if TYPE_CHECKING:\n    from sqlalchemy.ext.asyncio import AsyncSession  # noqa\n"
    )

    code, verdicts = _lint_imports(tmp_path)

    assert code == 0, verdicts
    assert set(verdicts.values()) == {"KEPT"}


def test_both_router_contracts_name_every_router() -> None:
    """A router added later is held by both rules: every module of the app that builds an
    APIRouter (the sandbox, a product of its own, has its own)."""
    routers = {
        "leadsync." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in PACKAGE.rglob("*.py")
        if "= APIRouter(" in p.read_text() and "sandbox" not in p.relative_to(PACKAGE).parts
    }
    contracts = _contracts()

    assert set(contracts["routers-apart"]["modules"]) == routers
    assert set(contracts["routers-no-sql"]["source_modules"]) == routers


def _modules_under(package: Path, prefix: str) -> set[str]:
    return {
        f"{prefix}.{p.stem}"
        for p in package.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }


def test_sandbox_contract_forbids_every_part_of_the_app_but_the_codec() -> None:
    app = _modules_under(PACKAGE, "leadsync") - {"leadsync.resman", "leadsync.sandbox"}
    resman = _modules_under(PACKAGE / "resman", "leadsync.resman") - CODEC

    forbidden = set(_contracts()["sandbox-standalone"]["forbidden_modules"])

    assert forbidden == app | resman
