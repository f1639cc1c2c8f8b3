"""The rehearsal's judgement: what one scenario's evidence (the load test's summary, what reached the
on-call inbox, what the database holds) says against what the plan's `rehearsal:` section expects.

    judge(scenario, observed) -> ScenarioResult (verdict lines, each naming its evidence)
    overall(results) -> "go" | "no-go" | "invalid" and its exit code (0, 1, 2)

Times are seconds of the rehearsal's clock, relative to the scenario's start (the load test's first
second); a fault's bounds count from the fault's start. The rules' windows are compressed by the
rehearsal's time scale (`Observed.time_scale`): a real-time alert takes that many times longer, which
the report states next to each measured delay.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from peakops.plan import Scenario

Verdict = Literal["go", "no-go", "invalid"]
EXIT_CODES: dict[Verdict, int] = {"go": 0, "no-go": 1, "invalid": 2}


@dataclass
class AlertSeen:
    """One alert as the inbox got it: first firing and first resolved notification (s from the scenario's
    start, None if never), and whether it reached the pager (a page) or only chat (a ticket)."""

    name: str
    page: bool
    fired_s: float | None = None
    resolved_s: float | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Accounting:
    """Orders counted from the database against the generator's acknowledgements (HTTP 201)."""

    acknowledged: int  # orders the load generator saw acknowledged
    stored: int  # non-synthetic orders the database gained during the scenario
    oversold: int  # units sold beyond the plan's stock, summed over products (database)
    charged_twice: int  # orders with more than one authorisation attached or open (database)

    @property
    def lost(self) -> int:
        return max(0, self.acknowledged - self.stored)


@dataclass
class Observed:
    summary: dict[str, Any]  # the load test's summary.json
    alerts: list[AlertSeen]
    accounting: Accounting
    fault_window: tuple[float, float] | None  # (start, end) s from the scenario's start
    time_scale: float = 1.0
    # Pages the previous scenario sent, or still firing when this one began: one that begins before this
    # scenario's fault is the previous fault's (its flapping), not this one's.
    carried_over: frozenset[str] = frozenset()


@dataclass
class Line:
    ok: bool
    kind: Literal["load", "alert", "page", "quiet", "resolve", "accounting", "invalid"]
    text: str  # what was checked and its evidence


@dataclass
class ScenarioResult:
    name: str
    verdict: Verdict
    lines: list[Line]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _burned(reason: str) -> str:
    """ "fail: influencer p95 ..." -> "influencer"; "fail: checkout success ..." -> "checkout"."""
    return reason.removeprefix("fail: ").split(" ", 1)[0]


def _resolution(name: str, alert: AlertSeen, bound_s: float | None, fault_end: float) -> list[Line]:
    """The line on `alert`'s resolution against `bound_s` after the fault's end (none without a bound)."""
    if bound_s is None:
        return []
    if alert.resolved_s is None:
        return [Line(False, "resolve", f"{name} did not resolve after the fault ended")]
    after = alert.resolved_s - fault_end
    return [
        Line(
            after <= bound_s,
            "resolve",
            f"{name} resolved {after:.1f} s after the fault ended (bound {bound_s:g} s)",
        )
    ]


def _before_the_fault(name: str, delay: float, carried_over: frozenset[str], required: bool = False) -> Line:
    """A page that began before the fault is no evidence of it: the demo once credited the previous
    scenario's flapping page to the next one's fault ("paged -4.3 s after the fault (allowed)"). A page
    the previous scenario sent is its fault's, said so; any other is unexpected. An expected alert
    seen only before the fault has no evidence of firing for it."""
    when = f"{-delay:.1f} s before the fault" if delay < 0 else "in a scenario without a fault"
    if name in carried_over and not required:
        return Line(True, "page", f"{name} paged {when}: carried over from the previous scenario's fault")
    if required:
        return Line(False, "alert", f"{name} paged {when}, so no evidence it fired for it")
    return Line(False, "page", f"unexpected page: {name} paged {when}")


def judge(scenario: Scenario, observed: Observed) -> ScenarioResult:
    """Every expectation of `scenario` checked against `observed`, one line each with its evidence."""
    lines: list[Line] = []
    expect = scenario.expect
    verdict = observed.summary.get("verdict", {})
    outcome = verdict.get("outcome")
    if outcome is None:
        lines.append(Line(False, "invalid", "the load test wrote no verdict"))
    for reason in verdict.get("reasons", []):
        if reason.startswith("invalid:"):
            lines.append(Line(False, "invalid", f"load test {reason}"))
        elif reason.startswith("fail:"):
            allowed = _burned(reason) in expect.may_burn
            note = " (allowed: expect.may_burn)" if allowed else ""
            lines.append(Line(allowed, "load", f"load test {reason}{note}"))
        elif reason.startswith("pass:"):
            lines.append(Line(True, "load", f"load test {reason}"))

    seen = {alert.name: alert for alert in observed.alerts}
    fault_start, fault_end = observed.fault_window or (0.0, 0.0)
    scale = observed.time_scale
    for bound in expect.fire:
        alert = seen.get(bound.alert)
        if alert is None or alert.fired_s is None:
            lines.append(
                Line(
                    False,
                    "alert",
                    f"{bound.alert} never reached the inbox (bound {bound.within_seconds:g} s)",
                )
            )
            continue
        delay = alert.fired_s - fault_start
        if delay < 0:
            lines.append(_before_the_fault(bound.alert, delay, observed.carried_over, required=True))
            continue
        real = f"; about {delay * scale:.0f} s at real time" if scale != 1 else ""
        lines.append(
            Line(
                delay <= bound.within_seconds,
                "alert",
                f"{bound.alert} {'paged' if alert.page else 'ticketed'} {delay:.1f} s after the fault "
                f"(bound {bound.within_seconds:g} s{real})",
            )
        )
        lines.extend(_resolution(bound.alert, alert, expect.resolve_within_seconds, fault_end))
    expected = {bound.alert for bound in expect.fire}
    for alert in observed.alerts:
        if not alert.page or alert.fired_s is None or alert.name in expected:
            continue
        if alert.fired_s < fault_start or (
            observed.fault_window is None and alert.name in observed.carried_over
        ):
            lines.append(_before_the_fault(alert.name, alert.fired_s - fault_start, observed.carried_over))
            continue
        if alert.name in expect.may_page:
            delay = alert.fired_s - fault_start
            lines.append(
                Line(
                    True,
                    "page",
                    f"{alert.name} paged {delay:.1f} s after the fault (allowed: expect.may_page)",
                )
            )
            lines.extend(_resolution(alert.name, alert, expect.resolve_within_seconds, fault_end))
        else:
            lines.append(Line(False, "page", f"unexpected page: {alert.name} at {alert.fired_s:.1f} s"))
    for name in expect.quiet:
        alert = seen.get(name)
        if alert is not None and alert.fired_s is not None:
            lines.append(Line(False, "quiet", f"{name} fired at {alert.fired_s:.1f} s; expected quiet"))
    if not [a for a in observed.alerts if a.page] and not expect.fire:
        lines.append(Line(True, "page", "no page"))

    books = observed.accounting
    lines.append(
        Line(
            books.lost == 0,
            "accounting",
            f"orders: {books.acknowledged} acknowledged, {books.stored} in the database, {books.lost} lost",
        )
    )
    lines.append(Line(books.oversold == 0, "accounting", f"oversold units: {books.oversold}"))
    lines.append(Line(books.charged_twice == 0, "accounting", f"orders charged twice: {books.charged_twice}"))

    if any(line.kind == "invalid" for line in lines):
        result: Verdict = "invalid"
    elif all(line.ok for line in lines):
        result = "go"
    else:
        result = "no-go"
    return ScenarioResult(scenario.name, result, lines)


def overall(results: list[ScenarioResult]) -> Verdict:
    """invalid if any scenario is, else no-go if any is, else go."""
    verdicts = {r.verdict for r in results}
    return "invalid" if "invalid" in verdicts else "no-go" if "no-go" in verdicts else "go"


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _epoch(stamp: str) -> float | None:
    """Alertmanager's RFC 3339 time -> epoch seconds; None when unparsable. Go writes nanoseconds and
    drops a zero fraction altogether ("...:05Z"), which datetime would not read as such."""
    from datetime import datetime

    found = _RFC3339.match(stamp)
    if found is None:
        return None
    seconds, fraction, zone = found.groups()
    text = f"{seconds}.{(fraction or '')[:6].ljust(6, '0')}{'+00:00' if zone == 'Z' else zone}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def alerts_from_inbox(records: list[dict[str, Any]], start: float, end: float) -> list[AlertSeen]:
    """The alerts that began during [start, end] (epoch s), from the inbox's records of Alertmanager's
    webhooks (/alerts/pager: a page, /alerts/chat: a ticket; the watchdog's heartbeat left out). An alert
    still firing from before `start` is not this scenario's. Times are relative to `start`: each alert's
    first firing and first resolution (a page that flaps after it, as the burn-rate pages do with sparse
    traffic after a fault, is not followed further: README, the rehearsal's findings)."""
    seen: dict[str, AlertSeen] = {}
    for record in sorted(records, key=lambda r: float(r.get("received_at", 0))):
        path, body = str(record.get("path", "")), record.get("body")
        at = float(record.get("received_at", 0))
        if path not in ("/alerts/pager", "/alerts/chat") or not isinstance(body, dict):
            continue
        if not start <= at <= end:
            continue
        for alert in body.get("alerts", []):
            labels = {str(k): str(v) for k, v in alert.get("labels", {}).items()}
            name = labels.get("alertname", "")
            began = _epoch(str(alert.get("startsAt", "")))
            if not name or began is None or began < start - 1:
                continue
            entry = seen.setdefault(name, AlertSeen(name, page=False, labels=labels))
            entry.page = entry.page or path == "/alerts/pager"
            if alert.get("status") == "firing" and entry.fired_s is None:
                entry.fired_s = round(at - start, 2)
            if alert.get("status") == "resolved" and entry.resolved_s is None:
                entry.resolved_s = round(at - start, 2)
    return sorted(seen.values(), key=lambda a: (a.fired_s is None, a.fired_s or 0.0, a.name))
