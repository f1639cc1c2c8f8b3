"""Turn each SLO's SLI into PromQL for errors and for valid events over a window, checked against the facts.

    outcomes: peakops_checkouts_total, good [success, replayed], bad [error, payment_unavailable]
      errors: (sum(rate(peakops_checkouts_total{outcome=~"error|payment_unavailable"}[1h])) or vector(0))
      valid:  sum(rate(peakops_checkouts_total{outcome=~"success|replayed|error|payment_unavailable"}[1h]))

The error side falls back to 0, so a service that never failed has a ratio of 0 rather than none; the
valid side does not, so no traffic means no ratio (and the absent-SLI alert, not a silent 0%).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from monitors import facts
from peakops.slo import SLO, WINDOW_PLACEHOLDER, SpecError

# Cumulative good and bad event counts per sample -> the input series that produce them.
FixtureSeries = Callable[[list[float], list[float]], dict[str, list[float]]]


@dataclass(frozen=True)
class ResolvedSLI:
    """PromQL with {{.window}}: errors and valid events (counts), or only the error ratio (a raw SLI)."""

    error_query: str | None
    total_query: str | None
    fixture: FixtureSeries | None  # None for free-form Sloth queries: write fixtures by hand
    ratio_query: str | None = None  # a raw SLI's error ratio

    @property
    def counted(self) -> bool:
        """Events are counted (not a raw ratio): the volume guard and the impact can be computed."""
        return self.error_query is not None and self.total_query is not None

    def errors(self, window: str) -> str:
        assert self.error_query is not None
        return self.error_query.replace(WINDOW_PLACEHOLDER, window)

    def total(self, window: str) -> str:
        assert self.total_query is not None
        return self.total_query.replace(WINDOW_PLACEHOLDER, window)

    def ratio(self, window: str) -> str:
        if self.ratio_query is not None:
            return f"({self.ratio_query.replace(WINDOW_PLACEHOLDER, window).strip()})"
        return f"({self.errors(window).strip()})\n/\n({self.total(window).strip()})"


_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    # Controls, separators and other non-printables (U+0085, U+2028 among them) are line breaks to YAML
    # or invisible in a rule file: written as Go's \u/\U escapes, the rule text stays one printable line.
    if not ch.isprintable():
        return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}"
    return ch


def promql_string(value: str) -> str:
    """A PromQL string literal (Go's escapes, as strconv.Unquote reads them) that matches ``value`` exactly.

    Quotes and backslashes are escaped, and so is every non-printable character, so that no value can end
    the string, break the YAML line the expression sits on, or vanish from the rule file.
    """
    return '"' + "".join(_escape_char(ch) for ch in value) + '"'


_RE2_ESCAPED = re.compile(r"([\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f])")


def regex_alternatives(values: list[str]) -> str:
    """RE2 alternatives matching exactly these values: every ASCII character but letters, digits and
    ``_`` escaped."""
    # RE2 accepts a backslash before any ASCII character that is not a letter or digit, and refuses it
    # before anything else (`\é`): non-ASCII characters stay as they are, literal.
    return "|".join(_RE2_ESCAPED.sub(r"\\\1", value) for value in values)


def _matchers(selector: Mapping[str, str], extra: str = "") -> str:
    parts = [f"{name}={promql_string(value)}" for name, value in sorted(selector.items())]
    if extra:
        parts.append(extra)
    return "{" + ", ".join(parts) + "}"


def _series(metric: str, labels: Mapping[str, str]) -> str:
    return metric + _matchers(labels)


def _check_selector(
    where: str,
    selector: Mapping[str, str],
    allowed: Mapping[str, tuple[str, ...] | None],
) -> None:
    for name, value in selector.items():
        if name not in allowed:
            raise SpecError(
                f"{where}.selector: {name!r} is not a label of this metric (labels: {sorted(allowed)})"
            )
        values = allowed[name]
        if values is not None and value not in values:
            raise SpecError(f"{where}.selector.{name}: {value!r} is not one of {list(values)}")


def _known_metrics(query: str, where: str) -> None:
    """A free-form query may read any metric, but a peakops_* one must be one the shop exports."""
    known = facts.known_metrics()
    for name in re.findall(r"\bpeakops_[a-zA-Z0-9_]+", query):
        if name not in known:
            raise SpecError(f"{where}: unknown metric {name!r}")


def resolve(slo: SLO, where: str) -> ResolvedSLI:
    """`where` prefixes every error: "monitors/slos/shop.yaml: slos[2] (name 'checkout-success'): sli"."""
    sli = slo.sli
    if sli.raw is not None:
        _known_metrics(sli.raw.error_ratio_query, f"{where}.raw.error_ratio_query")
        return ResolvedSLI(None, None, None, ratio_query=sli.raw.error_ratio_query)
    if sli.events is not None:
        _known_metrics(sli.events.error_query, f"{where}.events.error_query")
        _known_metrics(sli.events.total_query, f"{where}.events.total_query")
        return ResolvedSLI(sli.events.error_query, sli.events.total_query, None)

    if sli.outcomes is not None:
        spec = sli.outcomes
        at = f"{where}.outcomes"
        counter = facts.OUTCOME_COUNTERS.get(spec.metric)
        if counter is None:
            raise SpecError(
                f"{at}.metric: {spec.metric!r} is not an outcome counter "
                f"(known: {sorted(facts.OUTCOME_COUNTERS)})"
            )
        if spec.label != counter.label:
            raise SpecError(f"{at}.label: {spec.metric} carries its outcome in {counter.label!r}")
        _check_selector(at, spec.selector, counter.selectors)
        classed = {*spec.good, *spec.bad, *spec.invalid}
        unknown = sorted(classed - set(counter.values))
        if unknown:
            raise SpecError(
                f"{at}: {unknown} are not values of {spec.label} (values: {list(counter.values)})"
            )
        unclassed = [value for value in counter.values if value not in classed]
        if unclassed:
            raise SpecError(
                f"{at}: {unclassed} must be classed as good, bad or invalid, or they would be "
                "silently left out of the SLI"
            )
        bad = regex_alternatives(spec.bad)
        valid = regex_alternatives([*spec.good, *spec.bad])
        window = f"[{WINDOW_PLACEHOLDER}]"
        bad_matchers = _matchers(spec.selector, f"{spec.label}=~{promql_string(bad)}")
        valid_matchers = _matchers(spec.selector, f"{spec.label}=~{promql_string(valid)}")
        error_query = f"(sum(rate({spec.metric}{bad_matchers}{window})) or vector(0))"
        total_query = f"sum(rate({spec.metric}{valid_matchers}{window}))"
        good_series = _series(spec.metric, {**spec.selector, spec.label: spec.good[0]})
        bad_series = _series(spec.metric, {**spec.selector, spec.label: spec.bad[0]})

        def outcome_fixture(good: list[float], bad: list[float]) -> dict[str, list[float]]:
            return {good_series: good, bad_series: bad}

        return ResolvedSLI(error_query, total_query, outcome_fixture)

    assert sli.latency is not None  # SLI guarantees exactly one kind
    spec_l = sli.latency
    at = f"{where}.latency"
    histogram = facts.HISTOGRAMS.get(spec_l.metric)
    if histogram is None:
        raise SpecError(
            f"{at}.metric: {spec_l.metric!r} is not a known histogram (known: {sorted(facts.HISTOGRAMS)})"
        )
    _check_selector(at, spec_l.selector, histogram.selectors)
    if spec_l.threshold_seconds not in histogram.buckets:
        raise SpecError(
            f"{at}.threshold_seconds: {spec_l.threshold_seconds} is not a bucket bound of {spec_l.metric} "
            f"(bounds: {list(histogram.buckets)})"
        )
    le = facts.le_label(spec_l.threshold_seconds)
    window = f"[{WINDOW_PLACEHOLDER}]"
    count = f"{spec_l.metric}_count{_matchers(spec_l.selector)}"
    bucket = f"{spec_l.metric}_bucket" + _matchers(spec_l.selector, f"le={promql_string(le)}")
    total_query = f"sum(rate({count}{window}))"
    error_query = f"(sum(rate({count}{window})) - sum(rate({bucket}{window})))"
    count_series = _series(f"{spec_l.metric}_count", spec_l.selector)
    bucket_series = _series(f"{spec_l.metric}_bucket", {**spec_l.selector, "le": le})

    def latency_fixture(good: list[float], bad: list[float]) -> dict[str, list[float]]:
        return {count_series: [g + b for g, b in zip(good, bad, strict=True)], bucket_series: good}

    return ResolvedSLI(error_query, total_query, latency_fixture)
