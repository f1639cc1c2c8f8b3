"""SLO specs: Sloth's ``prometheus/v1`` format plus peakops extensions, validated with precise errors.

    monitors/slos/<service>.yaml -> load_specs(dir) -> [SLOSpec]

A plain Sloth file is accepted as it is (``sli.events`` with ``{{.window}}`` queries). The extensions:

- ``sli.outcomes``: one counter with an outcome label, each outcome classed as good, bad or invalid.
  Invalid events (a customer's unknown promo code, a declined card) never burn the error budget; a
  service error does. ``monitors/`` checks that every outcome the metric can carry is classed.
- ``sli.latency``: a histogram and a threshold; slower than the threshold is an error.
- ``slos[].peakops``: the SLO period, a minimum-volume guard, whether the SLO guards the campaign
  (its tickets become pages inside the campaign window) and how a failed event turns into lost orders.
- ``peakops`` at the top: the campaign plan (window, average order value, funnel) and the SLO whose
  traffic must be there while the campaign is live.

Errors name the file, the SLO and the field, e.g. ``monitors/slos/shop.yaml: slos[2] (name
'checkout-success'): alerting.annotations: runbook_url is required``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from peakops.paths import DEFAULT_PLAN, relative
from peakops.validation import format_errors

WINDOW_PLACEHOLDER = "{{.window}}"
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
ALERT_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
SLO_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DURATION = re.compile(r"^(\d+)([mhdw])$")
# Labels peakops sets on every generated series and alert; a spec may not set them itself.
RESERVED_LABELS = frozenset({"service", "slo", "severity", "campaign", "window"})


class SpecError(ValueError):
    """An SLO spec is unreadable or invalid; the message names the file, the SLO and the field."""


def parse_duration(text: str) -> timedelta:
    match = DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30d, 7d, 12h or 90m")
    value, unit = int(match[1]), match[2]
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: value})


def _label_names(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not re.match(LABEL_NAME, name):
            raise ValueError(f"{name!r} is not a valid Prometheus label name")
        if name.startswith("__"):
            raise ValueError(f"{name!r}: names starting with __ are reserved by Prometheus")
    return value


def _unreserved(value: dict[str, str]) -> dict[str, str]:
    reserved = sorted(set(value) & RESERVED_LABELS)
    if reserved:
        raise ValueError(f"{reserved} are set by peakops on every rule; choose other label names")
    return value


Labels = Annotated[dict[str, str], AfterValidator(_label_names), AfterValidator(_unreserved)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Events(_Strict):
    """Sloth's event SLI: PromQL for bad and for all events over ``{{.window}}``."""

    error_query: str = Field(min_length=1)
    total_query: str = Field(min_length=1)

    @field_validator("error_query", "total_query")
    @classmethod
    def _has_window(cls, value: str) -> str:
        if WINDOW_PLACEHOLDER not in value:
            raise ValueError(
                f"must contain {WINDOW_PLACEHOLDER} where the range goes, e.g. [{{{{.window}}}}]"
            )
        if value.count("(") != value.count(")") or value.count("[") != value.count("]"):
            raise ValueError("unbalanced brackets")
        return value


class Outcomes(_Strict):
    """A counter whose outcome label says whether each event was good, bad or not the service's fault."""

    metric: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*_total$")
    label: str = Field(pattern=LABEL_NAME)
    selector: dict[str, str] = Field(default_factory=dict)
    good: list[str] = Field(min_length=1)
    bad: list[str] = Field(min_length=1)
    invalid: list[str] = Field(default_factory=list, description="events that never burn the budget")

    @model_validator(mode="after")
    def _disjoint(self) -> Outcomes:
        groups = {"good": self.good, "bad": self.bad, "invalid": self.invalid}
        seen: dict[str, str] = {}
        for group, values in groups.items():
            for value in values:
                if value in seen:
                    raise ValueError(f"outcome {value!r} is both {seen[value]} and {group}")
                seen[value] = group
        return self


class Latency(_Strict):
    """A histogram: events slower than the threshold are errors. The threshold must be a bucket bound."""

    metric: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*_seconds$")
    selector: dict[str, str] = Field(default_factory=dict)
    threshold_seconds: float = Field(gt=0)


class SLI(_Strict):
    events: Events | None = None
    outcomes: Outcomes | None = None
    latency: Latency | None = None
    raw: Any = None
    plugin: Any = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLI:
        if self.raw is not None:
            raise ValueError(
                "raw: an error-ratio query cannot be weighted by request counts across windows; "
                "give sli.events (error_query and total_query) instead"
            )
        if self.plugin is not None:
            raise ValueError("plugin: Sloth plugins are not supported; give sli.events instead")
        given = [name for name in ("events", "outcomes", "latency") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of events, outcomes or latency (got {given or 'none'})")
        return self


class AlertSpec(_Strict):
    disable: bool = False
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Alerting(_Strict):
    name: str = Field(pattern=ALERT_NAME)
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page_alert: AlertSpec = AlertSpec()
    ticket_alert: AlertSpec = AlertSpec()

    @field_validator("annotations")
    @classmethod
    def _runbook(cls, value: dict[str, str]) -> dict[str, str]:
        url = value.get("runbook_url", "")
        if not url:
            raise ValueError("runbook_url is required: on-call must know what to do when it fires")
        if not re.match(r"^(https?://|/|\.{0,2}/?[\w.-]+/)", url):
            raise ValueError(f"runbook_url {url!r} is neither a URL nor a path")
        return value


class Impact(_Strict):
    """How one failed event becomes lost orders: 1 for checkout; the funnel's conversion for a landing."""

    orders_per_failed_event: float | Literal["funnel"] = 1.0

    @field_validator("orders_per_failed_event")
    @classmethod
    def _ratio(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not 0 <= value <= 1:
            raise ValueError("must be between 0 and 1, or 'funnel'")
        return value


class SLOExtensions(_Strict):
    period: str = "30d"
    min_events_per_second: float = Field(
        default=0.0, ge=0, description="below this rate over the short window, no burn alert fires"
    )
    campaign: bool = Field(default=False, description="tickets are promoted to pages in the campaign window")
    impact: Impact = Impact()

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        period = parse_duration(value)
        if not timedelta(days=1) <= period <= timedelta(days=90):
            raise ValueError("must be between 1d and 90d")
        return value

    @property
    def period_delta(self) -> timedelta:
        return parse_duration(self.period)


class SLO(_Strict):
    name: str = Field(pattern=SLO_NAME)
    objective: float = Field(gt=0, lt=100, description="percent of valid events that must be good")
    description: str = ""
    labels: Labels = Field(default_factory=dict)
    sli: SLI
    alerting: Alerting
    peakops: SLOExtensions = SLOExtensions()

    @property
    def error_budget(self) -> float:
        return round(1 - self.objective / 100, 12)


class CampaignLink(_Strict):
    """The spec guards the campaign being run: which plan that is, the caller says once (`--plan`, the
    inventory's ``peakops_campaign_plan``); the spec names only its SLO whose traffic must be there."""

    traffic_slo: str = Field(description="the SLO whose traffic must be there while the campaign is live")

    @model_validator(mode="before")
    @classmethod
    def _no_plan_path(cls, data: Any) -> Any:
        if isinstance(data, dict) and "plan" in data:
            raise ValueError(
                "plan: the campaign plan is chosen once, by its caller (`peakops slo generate --plan FILE`, "
                f"default {relative(DEFAULT_PLAN)}), not by a spec; remove this key"
            )
        return data


class SpecExtensions(_Strict):
    campaign: CampaignLink | None = None


class SLOSpec(_Strict):
    version: Literal["prometheus/v1"]
    service: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
    labels: Labels = Field(default_factory=dict)
    slos: list[SLO] = Field(min_length=1)
    peakops: SpecExtensions = SpecExtensions()

    @model_validator(mode="after")
    def _consistent(self) -> SLOSpec:
        names: dict[str, int] = {}
        for index, slo in enumerate(self.slos):
            if slo.name in names:
                raise ValueError(
                    f"slos[{index}].name: duplicate {slo.name!r} (first at slos[{names[slo.name]}])"
                )
            names[slo.name] = index
            if slo.peakops.campaign and self.peakops.campaign is None:
                raise ValueError(
                    f"slos[{index}] (name {slo.name!r}): peakops.campaign: needs peakops.campaign "
                    "(traffic_slo) at the top of the spec"
                )
            if slo.peakops.impact.orders_per_failed_event == "funnel" and self.peakops.campaign is None:
                raise ValueError(
                    f"slos[{index}] (name {slo.name!r}): peakops.impact: 'funnel' needs peakops.campaign "
                    "at the top of the spec (the funnel is the campaign plan's)"
                )
        campaign = self.peakops.campaign
        if campaign is not None and campaign.traffic_slo not in names:
            raise ValueError(f"peakops.campaign.traffic_slo: no SLO named {campaign.traffic_slo!r}")
        return self


def parse_spec(text: str, source: str) -> SLOSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping (version, service, slos)")
    try:
        return SLOSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_errors(exc, data, source, keys=("name",))) from None


def load_spec(path: Path) -> SLOSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read SLO spec: {exc.strerror}") from exc
    return parse_spec(text, str(path))


def load_specs(directory: Path) -> dict[Path, SLOSpec]:
    """Every ``*.yaml`` spec in a directory; all errors of all files together, so one run shows them all."""
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        raise SpecError(f"{directory}: no SLO specs (*.yaml) found")
    specs: dict[Path, SLOSpec] = {}
    problems: list[str] = []
    for path in files:
        try:
            specs[path] = load_spec(path)
        except SpecError as exc:
            problems.append(str(exc))
    services: dict[str, Path] = {}
    for path, spec in specs.items():
        if spec.service in services:
            problems.append(f"{path}: service: {spec.service!r} is also defined in {services[spec.service]}")
        services[spec.service] = path
    if problems:
        raise SpecError("\n".join(problems))
    return specs
