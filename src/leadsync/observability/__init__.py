"""Logging, metrics and alerting."""
