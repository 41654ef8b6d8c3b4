"""The ``leadsync`` command line (typer): one module per command group. Every command has
``--help``; the console script is ``leadsync = "leadsync.cli:main"``.

- ``main``: the root app, global options, ``version``, registration of everything below
- ``run``: ``up``, ``serve``, ``worker``, ``sandbox``
- ``db``, ``integration``, ``apikey``, ``queue``, ``sync``, ``conflicts``, ``watch``: the groups
- ``support``: what every operator command shares (one transaction, refusals, JSON output)
"""

from leadsync.cli.main import app, main

__all__ = ["app", "main"]
