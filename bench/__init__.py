"""leadsync's benchmark suite: `make bench` (see bench/__main__.py and the README)."""
