"""The campaign plan: the one source of truth for who posts when, to how many followers, what is sold,
and what the funnel looks like. Load tests read it today; pre-scaling, cache warm-up and campaign-window
alert routing read it as they land.

    campaigns/<name>.yaml -> load_plan(path) -> CampaignPlan

A malformed plan raises PlanError naming the file and the field, e.g.
``campaigns/x.yaml: influencers[1] (slug 'marco-fit'): click_through: Input should be less than or
equal to 1``.
"""

from __future__ import annotations

from datetime import datetime
from itertools import combinations, pairwise
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from peakops import catalog
from peakops.catalog import SKU_PATTERN, Product, duplicates, seed_fields
from peakops.validation import InputError, format_errors, parse_yaml, read_text

__all__ = ["CampaignPlan", "Decay", "Influencer", "PlanError", "Product", "load_plan", "parse_plan"]


class PlanError(ValueError):
    """The plan is unreadable or invalid; the message names the file and the field."""


# Bounds past any campaign's, so a typo or an overflow is refused rather than played: more followers
# than people, more arrivals per second than any shop (and any float's range).
MAX_FOLLOWERS = 10**10
MAX_ARRIVALS = 1e6
# Time compression (`--time-scale`): an hour in a second at most; a 5-minute window is 83 ms by then,
# shorter than any scrape interval.
MAX_TIME_SCALE = 3600.0
# An alert's or a load-test bar's name; bounded so an error that quotes it stays readable.
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    # allow_inf_nan: pydantic takes `.inf` for a float by default, and `gt=0` lets it through.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Window(_Strict):
    """When the campaign is live. Times without an offset are read in `timezone`."""

    timezone: str
    start: datetime
    end: datetime

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _localise_and_order(self) -> Window:
        zone = ZoneInfo(self.timezone)
        for name in ("start", "end"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None:
                object.__setattr__(self, name, moment.replace(tzinfo=zone))
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def localise(self, moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(self.timezone))


class Decay(_Strict):
    """How the clicks fade after the peak: exponential with a half-life, or a power law
    rate = peak * (1 + t / tau) ** -alpha (alpha > 1, so the total stays finite)."""

    kind: Literal["exponential", "power_law"] = "exponential"
    half_life_seconds: float = Field(default=600, gt=0)
    tau_seconds: float = Field(default=300, gt=0)
    alpha: float = Field(default=2.0, gt=1)


class Influencer(catalog.Influencer):
    """An influencer of the shop's catalog (slug, name, promo code, discount), with the campaign's facts:
    the audience, the post and how its clicks rise and fade."""

    platform: Literal["instagram", "tiktok", "youtube", "x", "twitch", "newsletter", "other"]
    followers: int = Field(gt=0, le=MAX_FOLLOWERS)
    reach: float = Field(gt=0, le=1, description="share of followers who see the post")
    click_through: float = Field(gt=0, le=1, description="share of those who click the link")
    post_time: datetime
    ramp_seconds: float = Field(default=60, gt=0, description="from the post to the peak of clicks")
    decay: Decay = Decay()

    @property
    def expected_visitors(self) -> float:
        return self.followers * self.reach * self.click_through


class Drop(_Strict):
    """A limited-stock product released at a moment: what the spike races for."""

    sku: str = Field(pattern=SKU_PATTERN)
    at: datetime
    share_of_carts: float = Field(default=0.5, ge=0, le=1, description="carts that go for the drop")


class Funnel(_Strict):
    """Conversion of each step from the one before it."""

    browse: float = Field(ge=0, le=1, description="landing -> browse the catalog")
    cart: float = Field(ge=0, le=1, description="browse -> add to cart")
    checkout: float = Field(ge=0, le=1, description="cart -> place the order")


class ThinkTime(_Strict):
    min_seconds: float = Field(default=0.5, ge=0)
    max_seconds: float = Field(default=3.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ThinkTime:
        if self.max_seconds < self.min_seconds:
            raise ValueError("max_seconds must be >= min_seconds")
        return self


class Baseline(_Strict):
    visitors_per_second: float = Field(ge=0, le=MAX_ARRIVALS)
    returning_share: float = Field(default=0.2, ge=0, le=1, description="of baseline: returning customers")


class Mix(_Strict):
    abusive_share: float = Field(default=0.01, ge=0, le=0.5, description="of all arrivals: abusive clients")
    static_share: float = Field(default=0.1, ge=0, le=1, description="of visitors who also fetch assets")
    slow_mobile_share: float = Field(default=0.3, ge=0, le=1)
    slow_mobile_rtt_ms: int = Field(default=300, ge=0, le=5000)


class JourneyThresholds(_Strict):
    p95_ms: float = Field(gt=0)
    p99_ms: float = Field(gt=0)
    max_error_ratio: float = Field(ge=0, le=1)


class Thresholds(_Strict):
    """The load test's per-journey bars, which no SLO states. Objectives live in the SLO specs alone: the
    checkout success bar is the objective of the SLO on checkout outcomes (peakops/context.py)."""

    journeys: dict[str, JourneyThresholds]
    min_orders_per_second: float = Field(default=0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _no_objectives(cls, data: Any) -> Any:
        if isinstance(data, dict) and "min_checkout_success_ratio" in data:
            raise ValueError(
                "min_checkout_success_ratio: the checkout success bar is the objective of the SLO on "
                "peakops_checkouts_total (monitors/slos); remove it from the plan"
            )
        return data

    @field_validator("journeys")
    @classmethod
    def _known_journeys(cls, value: dict[str, JourneyThresholds]) -> dict[str, JourneyThresholds]:
        unknown = set(value) - set(JOURNEYS)
        if unknown:
            raise ValueError(f"unknown journeys {sorted(unknown)}; known: {list(JOURNEYS)}")
        return value


JOURNEYS = ("influencer", "organic", "returning", "abusive")

# What a rehearsal can do to the local stack (cli/rehearse.py applies each):
#   payment_failure  every instance fails `ratio` of payment authorisations (the app's fault API)
#   payment_slow     payment authorisations take `latency_ms` longer (checkout route latency)
#   origin_slow      every app route takes `latency_ms` longer (the origin behind the edge)
#   app_kill         one app instance SIGKILLed through the supervisor, restarted at the fault's end
#   edge_reload      the edge reloads its config (SIGHUP through the supervisor)
#   edge_restart     the edge stopped, started again at the fault's end
#   database_restart the database stopped, started again at the fault's end (PostgreSQL stacks)
FAULT_KINDS = (
    "payment_failure",
    "payment_slow",
    "origin_slow",
    "app_kill",
    "edge_reload",
    "edge_restart",
    "database_restart",
)


class Fault(_Strict):
    """A fault on the rehearsal's timeline: `kind` (FAULT_KINDS), from `start_seconds` into the scenario's
    traffic for `duration_seconds` (seconds of the rehearsal's clock)."""

    kind: Literal[
        "payment_failure", "payment_slow", "origin_slow", "app_kill", "edge_reload", "edge_restart",
        "database_restart",
    ]  # fmt: skip
    start_seconds: float = Field(default=10, ge=0)
    duration_seconds: float = Field(default=30, gt=0)
    ratio: float = Field(default=1.0, gt=0, le=1, description="payment_failure: share of payments failed")
    latency_ms: int = Field(default=0, ge=0, le=60_000, description="payment_slow, origin_slow: added ms")

    @model_validator(mode="after")
    def _settings_of_its_kind(self) -> Fault:
        slows = ("payment_slow", "origin_slow")
        if self.kind in slows and self.latency_ms == 0:
            raise ValueError(f"latency_ms: {self.kind} needs latency_ms > 0")
        # A setting the fault does not read would be silently ignored: refuse it (its default, which a
        # dumped plan spells out, is no setting).
        if self.kind not in slows and self.latency_ms != 0:
            raise ValueError(f"latency_ms: only {' and '.join(slows)} add latency, not {self.kind}")
        if self.kind != "payment_failure" and self.ratio != 1.0:
            raise ValueError(f"ratio: only payment_failure fails a share of payments, not {self.kind}")
        return self


class AlertBound(_Strict):
    """An alert that must reach the inbox (firing) within `within_seconds` of the fault's start."""

    alert: Name
    within_seconds: float = Field(gt=0, le=3600)


class Expectations(_Strict):
    """What on-call should see. Any page not listed in `fire` or `may_page` is unexpected (a no-go): the
    healthy spike expects no page at all. `may_page` names pages the fault may or may not cause (a symptom
    that depends on where the visitors were when it struck), allowed but not required, held to
    `resolve_within_seconds` when they fire. `quiet` names alerts that must not fire at all (tickets
    too); `may_burn` names the load-test bars this scenario may miss (journeys, or `checkout` for the
    checkout SLO's bar)."""

    fire: list[AlertBound] = Field(default_factory=list)
    may_page: list[Name] = Field(default_factory=list)
    quiet: list[Name] = Field(default_factory=list)
    may_burn: list[Name] = Field(default_factory=list)
    resolve_within_seconds: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="the fired alerts resolve within this long after the fault ends",
    )

    @model_validator(mode="after")
    def _each_once(self) -> Expectations:
        for field, names in (
            ("fire", [bound.alert for bound in self.fire]),
            ("may_page", self.may_page),
            ("quiet", self.quiet),
            ("may_burn", self.may_burn),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{field}: each name once; repeated: {repeated}")
        return self


class Scenario(_Strict):
    name: str = Field(pattern=catalog.SLUG_PATTERN)
    description: str = ""
    fault: Fault | None = None
    expect: Expectations = Expectations()


class Capacity(_Strict):
    """The rehearsal's step load: one app instance, each step a constant arrival rate for `step_seconds`,
    in increasing order; the knee is the last step within the bars of `journey`'s thresholds (p95, error
    ratio). `headroom` is the share of each instance kept free when sizing replicas (0.3: run at 70%)."""

    steps: list[Annotated[float, Field(gt=0, le=MAX_ARRIVALS)]] = Field(
        default_factory=lambda: [5.0, 10.0, 20.0, 40.0], min_length=1
    )
    step_seconds: int = Field(default=15, ge=5, le=600)
    headroom: float = Field(default=0.3, ge=0, lt=1)
    journey: str = "influencer"

    @field_validator("steps")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in pairwise(value)):
            raise ValueError("steps must increase")
        return value


class Rehearsal(_Strict):
    """`peakops rehearse`: each scenario replays the plan's first spike (compressed to `traffic_seconds`
    at `peak_arrivals` visitors in its busiest second) with its fault on the timeline."""

    traffic_seconds: int = Field(default=60, ge=10, le=3600)
    peak_arrivals: float = Field(default=40, gt=0, le=MAX_ARRIVALS)
    scenarios: list[Scenario] = Field(min_length=1)
    capacity: Capacity | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rehearsal:
        names = [s.name for s in self.scenarios]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"scenarios: names must be unique; repeated: {repeated}")
        for index, scenario in enumerate(self.scenarios):
            fault = scenario.fault
            if fault is not None and fault.start_seconds + fault.duration_seconds > self.traffic_seconds:
                raise ValueError(
                    f"scenarios[{index}] ({scenario.name}).fault: ends at "
                    f"{fault.start_seconds + fault.duration_seconds:g} s, after the traffic "
                    f"({self.traffic_seconds} s)"
                )
            for field in ("fire", "may_page", "resolve_within_seconds"):
                if fault is None and getattr(scenario.expect, field) not in ([], None):
                    where = f"scenarios[{index}] ({scenario.name}).expect.{field}"
                    raise ValueError(
                        f"{where}: no fault to " + ("resolve after" if field.startswith("r") else "fire on")
                    )
            expect = scenario.expect
            listed = {
                "fire": [bound.alert for bound in expect.fire],
                "may_page": expect.may_page,
                "quiet": expect.quiet,
            }
            for (first, a), (second, b) in combinations(listed.items(), 2):
                both = sorted(set(a) & set(b))
                if both:
                    raise ValueError(
                        f"scenarios[{index}] ({scenario.name}).expect: {both} in both {first} and {second}"
                    )
        return self

    def scenario(self, name: str) -> Scenario:
        for scenario in self.scenarios:
            if scenario.name == name:
                return scenario
        raise KeyError(name)


class CampaignPlan(_Strict):
    name: str = Field(pattern=catalog.SLUG_PATTERN)
    window: Window
    baseline: Baseline
    influencers: list[Influencer] = Field(min_length=1)
    products: list[Product] = Field(min_length=1)
    drops: list[Drop] = Field(default_factory=list)
    funnel: Funnel
    think_time: ThinkTime = ThinkTime()
    mix: Mix = Mix()
    thresholds: Thresholds
    rehearsal: Rehearsal | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CampaignPlan:
        problems = duplicates(self.products, self.influencers)  # what the app's seed would refuse
        if problems:
            raise ValueError("; ".join(problems))
        skus = {p.sku for p in self.products}
        for index, drop in enumerate(self.drops):
            if drop.sku not in skus:
                raise ValueError(f"drops[{index}].sku: {drop.sku!r} is not among the products")
        for index, influencer in enumerate(self.influencers):
            object.__setattr__(influencer, "post_time", self.window.localise(influencer.post_time))
            if not self.window.start <= influencer.post_time <= self.window.end:
                raise ValueError(f"influencers[{index}].post_time: outside the campaign window")
        for drop in self.drops:
            object.__setattr__(drop, "at", self.window.localise(drop.at))
        capacity = self.rehearsal.capacity if self.rehearsal else None
        if capacity is not None and capacity.journey not in self.thresholds.journeys:
            raise ValueError(
                f"rehearsal.capacity.journey: {capacity.journey!r} has no thresholds "
                f"(thresholds.journeys: {sorted(self.thresholds.journeys)})"
            )
        return self

    def catalog_seed(self) -> dict[str, Any]:
        """The app's catalog seed, derived from the plan (app/seed/demo-catalog.yaml is generated)."""
        products = [{**p.model_dump(), "price": float(p.price)} for p in self.products]
        fields = seed_fields(Influencer)
        return {
            "products": products,
            "influencers": [{name: getattr(i, name) for name in fields} for i in self.influencers],
        }

    def to_yaml(self) -> str:
        """The validated plan as YAML that `parse_plan` reads back equal (times with their offsets), for
        a copy shipped to where the repository is not (a ConfigMap the exporter and Locust mount)."""
        data = self.model_dump(mode="json", exclude={"rehearsal"} if self.rehearsal is None else None)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    def regular_products(self) -> list[Product]:
        """What a customer may buy any time: not synthetic, not a limited drop."""
        dropped = {drop.sku for drop in self.drops}
        return [p for p in self.products if not p.synthetic and p.sku not in dropped]


def parse_plan(text: str, source: str) -> CampaignPlan:
    try:
        data = parse_yaml(text, source)
    except InputError as exc:
        raise PlanError(str(exc)) from None
    if not isinstance(data, dict):
        raise PlanError(f"{source}: expected a mapping (name, window, baseline, influencers, ...)")
    try:
        return CampaignPlan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(format_errors(exc, data, source, keys=("slug", "sku"))) from None


def load_plan(path: Path) -> CampaignPlan:
    try:
        text = read_text(path, "campaign plan")
    except InputError as exc:
        raise PlanError(str(exc)) from None
    return parse_plan(text, str(path))
