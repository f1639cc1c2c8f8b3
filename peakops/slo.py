"""SLO specs: Sloth's format, accepted as Sloth accepts it, plus peakops extensions; precise errors.

    monitors/slos/<file>.yaml -> load_specs(dir) -> [SpecSource(path, document, spec)]

Accepted as they are, as Sloth v0.16 reads them:
- ``version: prometheus/v1`` files, several specs per file (YAML documents separated by ``---``);
- the Kubernetes form (``apiVersion: sloth.slok.dev/v1``, ``kind: PrometheusServiceLevel``, camelCase keys),
  read as the same spec;
- ``sli.events`` (``error_query``/``total_query``) and ``sli.raw`` (``error_ratio_query``) with a
  ``{{.window}}`` (or ``{{ .window }}``) where the range goes. A raw SLI is a ratio, not counts: its long
  windows average ratios instead of weighing events, and it cannot have a volume guard or an impact;
- any label in ``page_alert``/``ticket_alert``, ``severity`` included: it is kept as written. Alerts are
  routed by ``sloth_severity`` (page or ticket), which peakops sets as Sloth does; an unset ``severity``
  defaults to page or ticket;
- ``alerting`` without ``name`` when both alerts are disabled, without ``annotations``, and without
  ``runbook_url`` (the generator then links `DEFAULT_RUNBOOK` and warns).
Refused, with the reason: Sloth SLI plugins and SLO plugins (peakops cannot run Sloth's Go plugins), and
OpenSLO files.

The peakops extensions:
- ``sli.outcomes``: one counter with an outcome label, each outcome classed as good, bad or invalid.
  Invalid events (a customer's unknown promo code, a declined card) never burn the error budget; a
  service error does. ``monitors/`` checks that every outcome the metric can carry is classed.
- ``sli.latency``: a histogram and a threshold; slower than the threshold is an error.
- ``slos[].peakops``: the SLO period, a minimum-volume guard, whether the SLO guards the campaign
  (its tickets become pages inside the campaign window) and how a failed event turns into lost orders.
- ``peakops.campaign`` at the top: the SLO whose traffic must be there while the campaign is live.

Errors name the file, the SLO and the field, e.g. ``monitors/slos/shop.yaml: slos[2] (name
'checkout-success'): objective: Input should be less than 100``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from peakops.paths import DEFAULT_PLAN, relative
from peakops.validation import InputError, format_errors, parse_yaml_documents, read_text

WINDOW_PLACEHOLDER = "{{.window}}"
# Sloth's own patterns (pkg/common/conventions): the window variable with or without spaces, and names.
WINDOW_VARIABLE = re.compile(r"{{ *\.window *}}")
NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
# An alert name is the value of the alertname label: Sloth takes any, e.g. slo_foo-bar_latency_fail in its
# own victoria-metrics example; printable text without quotes or braces keeps it safe in every file.
ALERT_NAME = r"^[^\s\"'{}\\]+$"
# What peakops (as Sloth) sets on every generated series and alert: a spec may not set it itself.
RESERVED_PREFIX = "sloth_"
RESERVED_LABELS = frozenset({"campaign"})
# Linked from an alert whose spec names no runbook (a warning says so).
DEFAULT_RUNBOOK = "docs/runbooks/slo-burn.md"
SLOTH_API = "sloth.slok.dev/v1"


class SpecError(ValueError):
    """An SLO spec is unreadable or invalid; the message names the file, the SLO and the field."""


PROMETHEUS_DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)  # y w d h m s ms, as Prometheus


def parse_duration(text: str) -> timedelta:
    """A Prometheus duration (``30d``, ``1h30m``, ``15s``); ValueError naming the text otherwise."""
    match = PROMETHEUS_DURATION.match(text)
    if not text or not match:
        raise ValueError(f"{text!r} is not a duration such as 30d, 7d, 12h, 90m or 1h30m")
    numbers = match.groups()[1::2]
    return timedelta(seconds=sum(int(n) * unit for n, unit in zip(numbers, _UNIT_SECONDS, strict=False) if n))


def _label_names(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not re.match(LABEL_NAME, name):
            raise ValueError(f"{name!r} is not a valid Prometheus label name")
        if name.startswith("__"):
            raise ValueError(f"{name!r}: names starting with __ are reserved by Prometheus")
    return value


def _unreserved(value: dict[str, str]) -> dict[str, str]:
    reserved = sorted(n for n in value if n.startswith(RESERVED_PREFIX) or n in RESERVED_LABELS)
    if reserved:
        raise ValueError(f"{reserved} are set by the generator on every rule; choose other label names")
    return value


def _scalar_values(value: Any) -> Any:
    """YAML scalars as Sloth reads label values (Go's YAML decoder into strings): ``true`` -> "true",
    ``0.2`` -> "0.2". Lists and mappings stay refused."""
    if not isinstance(value, dict):
        return value
    return {
        name: ("true" if item else "false")
        if isinstance(item, bool)
        else repr(item)
        if isinstance(item, int | float)
        else item
        for name, item in value.items()
    }


Labels = Annotated[
    dict[str, str],
    BeforeValidator(_scalar_values),
    AfterValidator(_label_names),
    AfterValidator(_unreserved),
]


class _Strict(BaseModel):
    # allow_inf_nan: pydantic takes `.inf` for a float by default, and `gt=0` lets it through.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _window_query(value: str) -> str:
    if not WINDOW_VARIABLE.search(value):
        raise ValueError(f"must contain {WINDOW_PLACEHOLDER} where the range goes, e.g. [{{{{.window}}}}]")
    if value.count("(") != value.count(")") or value.count("[") != value.count("]"):
        raise ValueError("unbalanced brackets")
    # One spelling from here on: the generator substitutes the window in one place.
    return WINDOW_VARIABLE.sub(WINDOW_PLACEHOLDER, value)


WindowQuery = Annotated[str, Field(min_length=1), AfterValidator(_window_query)]


class Events(_Strict):
    """Sloth's event SLI: PromQL for bad and for all events over ``{{.window}}``."""

    error_query: WindowQuery
    total_query: WindowQuery

    @model_validator(mode="after")
    def _different(self) -> Events:
        if self.error_query.strip() == self.total_query.strip():
            raise ValueError("error_query and total_query are the same query")
        return self


class Raw(_Strict):
    """Sloth's raw SLI: PromQL for the error ratio itself over ``{{.window}}``."""

    error_ratio_query: WindowQuery


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
    raw: Raw | None = None
    outcomes: Outcomes | None = None
    latency: Latency | None = None
    plugin: Any = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLI:
        if self.plugin is not None:
            raise ValueError(
                "plugin: Sloth SLI plugins are Go code peakops cannot run; give sli.events or sli.raw"
            )
        given = [name for name in ("events", "raw", "outcomes", "latency") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of events, raw, outcomes or latency (got {given or 'none'})")
        return self


class AlertSpec(_Strict):
    disable: bool = False
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Alerting(_Strict):
    name: str | None = Field(default=None, pattern=ALERT_NAME)
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page_alert: AlertSpec = AlertSpec()
    ticket_alert: AlertSpec = AlertSpec()

    @field_validator("annotations")
    @classmethod
    def _runbook(cls, value: dict[str, str]) -> dict[str, str]:
        url = value.get("runbook_url")
        if url is not None and not re.match(r"^(https?://|/|\.{0,2}/?[\w.-]+/)", url):
            raise ValueError(f"runbook_url {url!r} is neither a URL nor a path")
        return value

    @model_validator(mode="after")
    def _named_when_alerting(self) -> Alerting:
        if self.name is None and not (self.page_alert.disable and self.ticket_alert.disable):
            raise ValueError("name: required while the page or the ticket alert is enabled")
        return self

    @property
    def runbook_url(self) -> str:
        return self.annotations.get("runbook_url") or DEFAULT_RUNBOOK


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
    impact: Impact | None = Field(
        default=None, description="what a failed event costs; alerts then carry an impact annotation"
    )

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


# Sloth's built-in SLO plugins (internal/plugin/slo in Sloth v0.16.0) by what they do to the output.
# Validation and logging only, or the default chain itself: the rules are the same with or without them.
NEUTRAL_PLUGINS = frozenset(
    {
        "sloth.dev/core/debug/v1",
        "sloth.dev/core/noop/v1",
        "sloth.dev/core/validate/v1",
        "sloth.dev/contrib/validate_victoria_metrics/v1",
    }
)
DEFAULT_CHAIN = (
    "sloth.dev/core/sli_rules/v1",
    "sloth.dev/core/metadata_rules/v1",
    "sloth.dev/core/alert_rules/v1",
)
INFO_LABELS = "sloth.dev/contrib/info_labels/v1"
RULE_INTERVALS = "sloth.dev/contrib/rule_intervals/v1"


class PluginRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str = Field(min_length=1)
    priority: int = 0
    config: Any = None


class PluginChain(BaseModel):
    """Sloth's ``slo_plugins`` (spec) and ``plugins`` (SLO): a chain of built-in plugins by id."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    override_previous: bool = Field(default=False, alias="overridePrevious")
    chain: list[PluginRef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _supported(self) -> PluginChain:
        for index, plugin in enumerate(self.chain):
            where = f"chain[{index}] (id {plugin.id!r})"
            if plugin.id in NEUTRAL_PLUGINS or plugin.id in DEFAULT_CHAIN:
                continue
            if plugin.id == INFO_LABELS:
                _info_labels_config(plugin.config, where)
            elif plugin.id == RULE_INTERVALS:
                _rule_intervals_config(plugin.config, where)
            else:
                raise ValueError(
                    f"{where}: not a plugin peakops implements; it supports Sloth's core chain, "
                    f"{', '.join(sorted(NEUTRAL_PLUGINS))}, {INFO_LABELS} and {RULE_INTERVALS}"
                )
        if self.override_previous:
            missing = [p for p in DEFAULT_CHAIN if p not in {ref.id for ref in self.chain}]
            if missing:
                raise ValueError(
                    f"overridePrevious: the chain drops {missing}; peakops always generates the SLI, "
                    "metadata and alert rules"
                )
        return self


def _info_labels_config(config: Any, where: str) -> tuple[str, dict[str, str]]:
    if not isinstance(config, dict) or not isinstance(config.get("labels"), dict) or not config["labels"]:
        raise ValueError(f"{where}: config.labels: at least one label is required")
    unknown = sorted(set(config) - {"labels", "metricName"})
    if unknown:
        raise ValueError(f"{where}: config: unknown keys {unknown}")
    labels = _scalar_values(config["labels"])
    for name, value in labels.items():
        if not isinstance(value, str):
            raise ValueError(f"{where}: config.labels.{name}: expected a string")
        if not re.match(LABEL_NAME, name):
            raise ValueError(
                f"{where}: config.labels: {name!r} is not a valid Prometheus label name "
                "(Sloth writes it, and promtool check rules refuses its output)"
            )
    return str(config.get("metricName") or "sloth_slo_info"), labels


INTERVAL_KEYS = {"default": "default", "sliError": "sli", "metadata": "meta", "alert": "alerts"}


def _rule_intervals_config(config: Any, where: str) -> dict[str, str]:
    interval = config.get("interval") if isinstance(config, dict) else None
    if not isinstance(interval, dict) or "default" not in interval:
        raise ValueError(f"{where}: config.interval.default: at least the default interval is required")
    unknown = sorted(set(interval) - set(INTERVAL_KEYS))
    if unknown:
        raise ValueError(f"{where}: config.interval: unknown keys {unknown}")
    found = {}
    for key, group in INTERVAL_KEYS.items():
        if key in interval:
            value = str(interval[key])
            if not value or not PROMETHEUS_DURATION.match(value):
                raise ValueError(f"{where}: config.interval.{key}: {value!r} is not a Prometheus duration")
            found[group] = value
    default = found.pop("default")
    return {group: found.get(group, default) for group in ("sli", "meta", "alerts")}


@dataclass(frozen=True)
class PluginEffects:
    """What the supported plugins change: labels on one metadata recording, rule group intervals."""

    info_metric: str = "sloth_slo_info"
    info_labels: dict[str, str] = field(default_factory=dict)
    intervals: dict[str, str] = field(default_factory=dict)  # "sli" | "meta" | "alerts" -> duration


def plugin_effects(*chains: PluginChain | None) -> PluginEffects:
    """The spec's chain then the SLO's (an SLO chain with overridePrevious replaces the spec's), applied
    in Sloth's order: by priority, then as listed."""
    refs: list[PluginRef] = []
    for chain in chains:
        if chain is None:
            continue
        refs = list(chain.chain) if chain.override_previous else [*refs, *chain.chain]
    effects = PluginEffects()
    for ref in sorted(refs, key=lambda r: r.priority):
        if ref.id == INFO_LABELS:
            metric, labels = _info_labels_config(ref.config, ref.id)
            effects = PluginEffects(metric, {**effects.info_labels, **labels}, effects.intervals)
        elif ref.id == RULE_INTERVALS:
            intervals = _rule_intervals_config(ref.config, ref.id)
            effects = PluginEffects(effects.info_metric, effects.info_labels, intervals)
    return effects


class SLO(_Strict):
    name: str = Field(pattern=NAME)
    objective: float = Field(gt=0, lt=100, description="percent of valid events that must be good")
    description: str = ""
    labels: Labels = Field(default_factory=dict)
    sli: SLI
    alerting: Alerting = Alerting(page_alert=AlertSpec(disable=True), ticket_alert=AlertSpec(disable=True))
    plugins: PluginChain | None = None
    peakops: SLOExtensions = SLOExtensions()

    @model_validator(mode="after")
    def _consistent(self) -> SLO:
        if self.error_budget <= 0:
            raise ValueError(f"objective: {self.objective!r} leaves no error budget")
        if self.sli.raw is not None and self.peakops.impact is not None:
            raise ValueError(
                "peakops.impact: a raw SLI is a ratio, without the failed events an impact is counted from; "
                "give sli.events to state an impact"
            )
        if self.sli.raw is not None and self.peakops.min_events_per_second > 0:
            raise ValueError(
                "peakops.min_events_per_second: a raw SLI is a ratio and has no event rate to guard; "
                "give sli.events to use a volume guard"
            )
        return self

    @property
    def error_budget(self) -> Decimal:
        """1 - objective, exactly (decimal arithmetic: 99.9 leaves 0.001, not 0.000999999...)."""
        return 1 - Decimal(repr(self.objective)) / 100


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
    service: str = Field(pattern=NAME)
    labels: Labels = Field(default_factory=dict)
    slos: list[SLO] = Field(min_length=1)
    slo_plugins: PluginChain | None = None
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
            impact = slo.peakops.impact
            if (
                impact is not None
                and impact.orders_per_failed_event == "funnel"
                and self.peakops.campaign is None
            ):
                raise ValueError(
                    f"slos[{index}] (name {slo.name!r}): peakops.impact: 'funnel' needs peakops.campaign "
                    "at the top of the spec (the funnel is the campaign plan's)"
                )
        campaign = self.peakops.campaign
        if campaign is not None and campaign.traffic_slo not in names:
            raise ValueError(f"peakops.campaign.traffic_slo: no SLO named {campaign.traffic_slo!r}")
        return self


@dataclass(frozen=True)
class SpecSource:
    """One spec and where it came from: a file, and its document when the file holds several."""

    path: Path
    document: int  # 0-based
    documents: int
    spec: SLOSpec
    api: str = "prometheus/v1"  # or SLOTH_API: the Kubernetes form

    @property
    def where(self) -> str:
        return str(self.path) if self.documents == 1 else f"{self.path} (document {self.document + 1})"


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _snake_keys(node: Any, *, free: bool = False) -> Any:
    """The Kubernetes form's camelCase keys as the prometheus/v1 names; label and annotation maps keep
    their keys (they are the user's)."""
    if isinstance(node, list):
        return [_snake_keys(item) for item in node]
    if not isinstance(node, dict) or free:
        return node
    return {
        (key if free else _snake(key)): _snake_keys(
            value, free=key in ("labels", "annotations", "options", "config")
        )
        for key, value in node.items()
    }


def from_document(data: Any, source: str) -> dict[str, Any]:
    """A document of either accepted form as the prometheus/v1 mapping; SpecError for anything else."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping (version, service, slos)")
    if str(data.get("apiVersion", "")).startswith("openslo"):
        raise SpecError(f"{source}: OpenSLO specs are not supported; write Sloth's prometheus/v1 form")
    if "apiVersion" in data or "kind" in data:
        if data.get("apiVersion") != SLOTH_API or data.get("kind") != "PrometheusServiceLevel":
            raise SpecError(
                f"{source}: apiVersion/kind: expected {SLOTH_API} PrometheusServiceLevel, "
                f"got {data.get('apiVersion')!r} {data.get('kind')!r}"
            )
        spec = data.get("spec")
        if not isinstance(spec, dict):
            raise SpecError(f"{source}: spec: expected a mapping (service, slos)")
        return {"version": "prometheus/v1", **_snake_keys(spec)}
    return data


def parse_documents(text: str, source: str) -> list[tuple[str, SLOSpec]]:
    """Each document's spec, with the form it was written in: ``prometheus/v1`` or ``sloth.slok.dev/v1``
    (the Kubernetes form; Sloth's info metric says which)."""
    try:
        documents = [d for d in parse_yaml_documents(text, source) if d is not None]
    except InputError as exc:
        raise SpecError(str(exc)) from None
    if not documents:
        raise SpecError(f"{source}: empty: expected a spec (version, service, slos)")
    specs: list[tuple[str, SLOSpec]] = []
    problems: list[str] = []
    for index, document in enumerate(documents):
        where = source if len(documents) == 1 else f"{source} (document {index + 1})"
        data: Any = document
        try:
            data = from_document(document, where)
            api = SLOTH_API if "apiVersion" in document else "prometheus/v1"
            specs.append((api, SLOSpec.model_validate(data)))
        except SpecError as exc:
            problems.append(str(exc))
        except ValidationError as exc:
            problems.append(format_errors(exc, data, where, keys=("name",)))
    if problems:
        raise SpecError("\n".join(problems))
    return specs


def parse_specs(text: str, source: str) -> list[SLOSpec]:
    """Every spec of a file (YAML documents separated by ``---``); all documents' errors together."""
    return [spec for _, spec in parse_documents(text, source)]


def parse_spec(text: str, source: str) -> SLOSpec:
    """A file that holds exactly one spec."""
    specs = parse_specs(text, source)
    if len(specs) != 1:
        raise SpecError(f"{source}: expected one spec, found {len(specs)}")
    return specs[0]


def load_specs(directory: Path) -> list[SpecSource]:
    """Every spec of every ``*.yaml``/``*.yml`` file in a directory; all errors of all files together, so
    one run shows them all. A service defined twice is an error (its rules would collide)."""
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        raise SpecError(f"{directory}: no SLO specs (*.yaml) found")
    found: list[SpecSource] = []
    problems: list[str] = []
    for path in files:
        try:
            specs = parse_documents(read_text(path, "SLO spec"), str(path))
        except InputError as exc:
            problems.append(str(exc))
            continue
        except SpecError as exc:
            problems.append(str(exc))
            continue
        found += [SpecSource(path, index, len(specs), spec, api) for index, (api, spec) in enumerate(specs)]
    services: dict[str, str] = {}
    for source in found:
        if source.spec.service in services:
            first = services[source.spec.service]
            problems.append(f"{source.where}: service: {source.spec.service!r} is also defined in {first}")
        services[source.spec.service] = source.where
    if problems:
        raise SpecError("\n".join(problems))
    return found
