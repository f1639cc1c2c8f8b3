"""Fault injection for rehearsals: added latency, error ratio, payment and promo-check failure ratios, per
route template or global ("*"), each rule with an expiry so a forgotten rehearsal heals itself.

Rules live in this instance's memory: a rehearsal through the load balancer sets them on every instance
(the instances are listed by `peakops status --json`). Probes and /metrics are never faulted, or the
rehearsal would measure the monitoring instead of the shop.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

GLOBAL = "*"
EXEMPT_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    route: str = Field(default=GLOBAL, description='A route template such as "/api/checkout", or "*"')
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    error_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    payment_failure_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    promo_failure_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    ttl_seconds: float = Field(default=300.0, gt=0, le=86_400)


class FaultRule(FaultSpec):
    id: str
    expires_at: float


@dataclass
class Effect:
    latency_s: float = 0.0
    error: bool = False


@dataclass
class FaultRegistry:
    rules: dict[str, FaultRule] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    def add(self, spec: FaultSpec) -> FaultRule:
        rule = FaultRule(
            **spec.model_dump(), id=uuid.uuid4().hex[:12], expires_at=time.time() + spec.ttl_seconds
        )
        self.rules[rule.id] = rule
        return rule

    def clear(self) -> int:
        count = len(self.active())
        self.rules.clear()
        return count

    def remove(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None

    def active(self) -> list[FaultRule]:
        now = time.time()
        expired = [rid for rid, rule in self.rules.items() if rule.expires_at <= now]
        for rid in expired:
            del self.rules[rid]
        return list(self.rules.values())

    def effect_for(self, route: str) -> Effect | None:
        """What to do to one request: None on the fast path when no rule exists."""
        if not self.rules or route in EXEMPT_ROUTES:
            return None
        effect = Effect()
        for rule in self.active():
            if rule.route not in (GLOBAL, route):
                continue
            effect.latency_s += rule.latency_ms / 1000
            if rule.error_ratio and self.rng.random() < rule.error_ratio:
                effect.error = True
        return effect

    def promo_should_fail(self) -> bool:
        if not self.rules:
            return False
        return any(
            rule.promo_failure_ratio and self.rng.random() < rule.promo_failure_ratio
            for rule in self.active()
        )

    def payment_should_fail(self) -> bool:
        if not self.rules:
            return False
        return any(
            rule.payment_failure_ratio and self.rng.random() < rule.payment_failure_ratio
            for rule in self.active()
        )
