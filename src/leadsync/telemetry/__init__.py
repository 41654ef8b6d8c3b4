"""Telemetry every layer may use: structured, redacted logging and the Prometheus metrics.

Below everything but configuration on purpose: the ResMan client, the engine and the API all
report here; the monitoring built on top (alert rules, report, doctor) is ``observability``.
"""
