"""Conflicts awaiting review: list, show (base and both values), resolve."""
