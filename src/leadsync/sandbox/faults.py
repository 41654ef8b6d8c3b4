"""Seeded fault decisions for wire requests.

Each request a fault applies to draws exactly three numbers from ``random.Random(seed)``
(fault kind, status code, latency jitter), whatever the rates, so the same seed and the same
sequence of requests give the same faults. Requests to methods outside ``methods`` draw nothing
and so do not shift the sequence of the targeted ones.

The kinds share one draw: with rates reset 0.1 and http_error 0.2, exactly 10 % of requests
are reset and 20 % get an HTTP error (if the rates add up past 1, later kinds get the rest).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from leadsync.sandbox.config import FaultConfig


class FaultKind(StrEnum):
    RESET = "reset"
    TIMEOUT = "timeout"
    RATE_LIMIT = "rate_limit"
    HTTP_ERROR = "http_error"
    BUSINESS_ERROR = "business_error"
    #: Not drawn: counted when SearchProspects answers 502 for a too large window.
    OVERFLOW = "overflow"


@dataclass(frozen=True, slots=True)
class FaultDecision:
    kind: FaultKind | None = None
    status_code: int | None = None
    delay_seconds: float = 0.0


NO_FAULT = FaultDecision()


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._methods = (
            None if config.methods is None else frozenset(m.casefold() for m in config.methods)
        )
        self._shares = (
            (FaultKind.RESET, config.reset_rate),
            (FaultKind.TIMEOUT, config.timeout_rate),
            (FaultKind.RATE_LIMIT, config.rate_limit_rate),
            (FaultKind.HTTP_ERROR, config.http_error_rate),
            (FaultKind.BUSINESS_ERROR, config.business_error_rate),
        )
        self._fail_first = config.fail_first
        self._active = (
            any(rate > 0 for _, rate in self._shares)
            or config.latency_ms > 0
            or config.latency_jitter_ms > 0
        )

    def applies_to(self, method: str) -> bool:
        return self._methods is None or method.casefold() in self._methods

    def _pick(self, draw: float) -> FaultKind | None:
        threshold = 0.0
        for kind, rate in self._shares:
            threshold += rate
            if draw < threshold:
                return kind
        return None

    def decide(self, method: str) -> FaultDecision:
        """The fault (if any) and the added delay for one request to `method`."""
        if self._fail_first > 0 and self.applies_to(method):
            self._fail_first -= 1
            return FaultDecision(FaultKind.HTTP_ERROR, self.config.http_error_codes[0])
        if not self._active or not self.applies_to(method):
            return NO_FAULT
        kind_draw, code_draw, jitter_draw = (self._rng.random() for _ in range(3))
        cfg = self.config
        delay_ms = cfg.latency_ms + (2 * jitter_draw - 1) * cfg.latency_jitter_ms
        delay = max(0.0, delay_ms) / 1000
        kind = self._pick(kind_draw)
        if kind is None:
            return FaultDecision(delay_seconds=delay)
        if kind is FaultKind.TIMEOUT:
            delay += cfg.hang_seconds
        status: int | None = None
        if kind is FaultKind.HTTP_ERROR:
            codes = cfg.http_error_codes
            status = codes[min(int(code_draw * len(codes)), len(codes) - 1)]
        elif kind is FaultKind.RATE_LIMIT:
            status = 429
        return FaultDecision(kind=kind, status_code=status, delay_seconds=delay)
