"""The import-linter contracts of pyproject.toml (run by `make lint`) can fail: each is run
against a copy of src/ with one import that breaks it, and must be the one contract broken
(the violations sit in modules no other contract's source reaches: contracts also forbid
indirect imports, so e.g. a violation in resman.models would break the sandbox's too).

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


@pytest.mark.parametrize(
    ("contract", "module", "violation"),
    [
        ("pure-core", "merge/values.py", "import leadsync.db.session"),
        ("pure-core", "mapping/lead.py", "import httpx"),
        ("pure-core", "mapping/status.py", "import leadsync.resman.client"),
        ("resman-below-engine", "resman/client.py", "import leadsync.sync.flags"),
        ("resman-below-engine", "resman/search.py", "import leadsync.leads.service"),
        ("sandbox-standalone", "sandbox/seed.py", "import leadsync.config"),
        ("sandbox-standalone", "sandbox/state.py", "import leadsync.resman.client"),
        ("routers-apart", "sync/routes.py", "import leadsync.leads.routes"),
        ("routers-apart", "realtime/ws.py", "import leadsync.conflicts.routes"),
    ],
)
def test_each_contract_fails_when_violated(
    tmp_path: Path, contract: str, module: str, violation: str
) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    copy = tmp_path / "src" / "leadsync"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{violation}  # noqa\n")

    code, verdicts = _lint_imports(tmp_path)

    names = {c["id"]: c["name"] for c in _contracts().values()}
    assert code == 1
    assert verdicts == {
        name: "BROKEN" if key == contract else "KEPT" for key, name in names.items()
    }


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
