"""The rehearsal's judgement on recorded evidence: each verdict line names its evidence; go, no-go and
invalid as the issue states them."""

from __future__ import annotations

from typing import Any

from peakops.plan import AlertBound, Expectations, Fault, Scenario
from peakops.rehearsal import Accounting, AlertSeen, Observed, alerts_from_inbox, judge, overall

PASSING = {"verdict": {"outcome": "pass", "reasons": ["pass: every journey within its thresholds"]}}
FAILING = {
    "verdict": {
        "outcome": "fail",
        "reasons": ["fail: checkout success 40.00% < 99.00% (SLO)", "fail: influencer error ratio 9% > 1%"],
    }
}
BOOKS = Accounting(acknowledged=10, stored=10, oversold=0, charged_twice=0)
OUTAGE = Scenario(
    name="payment-outage",
    fault=Fault(kind="payment_failure", start_seconds=5, duration_seconds=20),
    expect=Expectations(
        fire=[AlertBound(alert="CheckoutSuccessBudgetBurn", within_seconds=30)],
        resolve_within_seconds=60,
        may_burn=["checkout", "influencer"],
    ),
)


def observed(summary: dict[str, Any], alerts: list[AlertSeen], books: Accounting = BOOKS) -> Observed:
    return Observed(summary, alerts, books, (5.0, 25.0), time_scale=60)


def test_a_healthy_spike_without_a_page_is_go() -> None:
    result = judge(Scenario(name="healthy"), observed(PASSING, []))
    assert result.verdict == "go"
    assert [line.text for line in result.lines if line.kind == "page"] == ["no page"]


def test_any_page_in_the_healthy_spike_is_no_go() -> None:
    page = AlertSeen("LandingLatencyBudgetBurn", page=True, fired_s=12.0)
    result = judge(Scenario(name="healthy"), observed(PASSING, [page]))
    assert result.verdict == "no-go"
    assert "unexpected page: LandingLatencyBudgetBurn at 12.0 s" in [line.text for line in result.lines]


def test_the_outage_paged_in_its_bound_and_resolved_with_its_burn_allowed_is_go() -> None:
    page = AlertSeen("CheckoutSuccessBudgetBurn", page=True, fired_s=19.5, resolved_s=70.0)
    result = judge(OUTAGE, observed(FAILING, [page]))
    assert result.verdict == "go", result.lines
    texts = [line.text for line in result.lines]
    assert (
        "CheckoutSuccessBudgetBurn paged 14.5 s after the fault (bound 30 s; about 870 s at real time)"
        in texts
    )
    assert "CheckoutSuccessBudgetBurn resolved 45.0 s after the fault ended (bound 60 s)" in texts


def test_a_late_page_a_missing_resolution_or_a_burn_not_allowed_is_no_go() -> None:
    late = AlertSeen("CheckoutSuccessBudgetBurn", page=True, fired_s=40.0)
    result = judge(OUTAGE, observed(PASSING, [late]))
    assert result.verdict == "no-go"
    bad = [line.text for line in result.lines if not line.ok]
    assert bad == [
        "CheckoutSuccessBudgetBurn paged 35.0 s after the fault (bound 30 s; about 2100 s at real time)",
        "CheckoutSuccessBudgetBurn did not resolve after the fault ended",
    ]
    strict = OUTAGE.model_copy(update={"expect": OUTAGE.expect.model_copy(update={"may_burn": []})})
    on_time = AlertSeen("CheckoutSuccessBudgetBurn", page=True, fired_s=10.0, resolved_s=30.0)
    result = judge(strict, observed(FAILING, [on_time]))
    assert result.verdict == "no-go"
    assert [line.kind for line in result.lines if not line.ok] == ["load", "load"]


def test_a_may_page_alert_is_allowed_not_required_and_held_to_the_resolution_bound() -> None:
    """A database restart pages the cart SLO for sure; checkout success only if visitors were mid-checkout."""
    restart = OUTAGE.model_copy(
        update={"expect": OUTAGE.expect.model_copy(update={"may_page": ["PaymentAuthorisationBudgetBurn"]})}
    )
    must = AlertSeen("CheckoutSuccessBudgetBurn", page=True, fired_s=10.0, resolved_s=30.0)
    assert judge(restart, observed(FAILING, [must])).verdict == "go"  # not required
    resolved = AlertSeen("PaymentAuthorisationBudgetBurn", page=True, fired_s=8.0, resolved_s=40.0)
    result = judge(restart, observed(FAILING, [must, resolved]))
    assert result.verdict == "go", result.lines
    texts = [line.text for line in result.lines]
    assert "PaymentAuthorisationBudgetBurn paged 3.0 s after the fault (allowed: expect.may_page)" in texts
    assert "PaymentAuthorisationBudgetBurn resolved 15.0 s after the fault ended (bound 60 s)" in texts
    stuck = AlertSeen("PaymentAuthorisationBudgetBurn", page=True, fired_s=8.0)
    result = judge(restart, observed(FAILING, [must, stuck]))
    assert result.verdict == "no-go"
    assert [line.text for line in result.lines if not line.ok] == [
        "PaymentAuthorisationBudgetBurn did not resolve after the fault ended"
    ]
    other = AlertSeen("LandingLatencyBudgetBurn", page=True, fired_s=9.0, resolved_s=30.0)
    assert judge(restart, observed(FAILING, [must, other])).verdict == "no-go"


def test_a_page_that_began_before_the_fault_is_not_its_evidence() -> None:
    """Seen in the demo: the payment outage's pages, flapping into the database restart, were credited to
    its fault as allowed may_page pages "paged -4.3 s after the fault". A page the previous scenario sent
    is said to be carried over; any other page before the fault is unexpected; an expected alert seen
    only before the fault has no evidence of firing for it."""
    restart = OUTAGE.model_copy(
        update={"expect": OUTAGE.expect.model_copy(update={"may_page": ["PaymentAuthorisationBudgetBurn"]})}
    )
    must = AlertSeen("CheckoutSuccessBudgetBurn", page=True, fired_s=10.0, resolved_s=30.0)
    early = AlertSeen("PaymentAuthorisationBudgetBurn", page=True, fired_s=0.7, resolved_s=14.7)

    def judged(alerts: list[AlertSeen], carried: set[str], scenario: Scenario = restart) -> Any:
        window = (5.0, 25.0) if scenario.fault else None
        summary = FAILING if scenario.fault else PASSING
        evidence = Observed(summary, alerts, BOOKS, window, 60, frozenset(carried))
        return judge(scenario, evidence)

    result = judged([must, early], set())
    assert result.verdict == "no-go"
    assert [line.text for line in result.lines if not line.ok] == [
        "unexpected page: PaymentAuthorisationBudgetBurn paged 4.3 s before the fault"
    ]
    result = judged([must, early], {"PaymentAuthorisationBudgetBurn"})
    assert result.verdict == "go", result.lines
    assert (
        "PaymentAuthorisationBudgetBurn paged 4.3 s before the fault: carried over from the previous "
        "scenario's fault"
    ) in [line.text for line in result.lines]
    # Carried over or not, an expected alert needs a firing after the fault.
    early_must = AlertSeen("CheckoutSuccessBudgetBurn", page=True, fired_s=2.0, resolved_s=30.0)
    result = judged([early_must], {"CheckoutSuccessBudgetBurn"}, OUTAGE)
    assert result.verdict == "no-go"
    assert [line.text for line in result.lines if not line.ok] == [
        "CheckoutSuccessBudgetBurn paged 3.0 s before the fault, so no evidence it fired for it"
    ]
    # A scenario without a fault: the previous one's page is carried over, any other unexpected.
    healthy = Scenario(name="healthy")
    flap = AlertSeen("CheckoutSuccessBudgetBurn", page=True, fired_s=3.0, resolved_s=6.0)
    assert judged([flap], {"CheckoutSuccessBudgetBurn"}, healthy).verdict == "go"
    assert judged([flap], set(), healthy).verdict == "no-go"


def test_a_lost_an_oversold_or_a_twice_charged_order_is_no_go() -> None:
    for books, text in (
        (Accounting(10, 9, 0, 0), "orders: 10 acknowledged, 9 in the database, 1 lost"),
        (Accounting(10, 10, 2, 0), "oversold units: 2"),
        (Accounting(10, 10, 0, 1), "orders charged twice: 1"),
    ):
        result = judge(Scenario(name="healthy"), observed(PASSING, [], books))
        assert result.verdict == "no-go"
        assert text in [line.text for line in result.lines if not line.ok]


def test_a_generator_that_could_not_keep_up_makes_the_rehearsal_invalid() -> None:
    summary = {"verdict": {"outcome": "invalid", "reasons": ["invalid: seconds 0-9 started 50 of 100"]}}
    result = judge(Scenario(name="healthy"), observed(summary, []))
    assert result.verdict == "invalid"
    assert overall([judge(Scenario(name="healthy"), observed(PASSING, [])), result]) == "invalid"


def notification(path: str, at: float, status: str, name: str, starts: str) -> dict[str, Any]:
    alert = {"status": status, "labels": {"alertname": name}, "startsAt": starts}
    return {"received_at": at, "path": path, "body": {"status": status, "alerts": [alert]}}


def test_an_alert_that_began_on_a_whole_second_counts() -> None:
    """Go writes RFC 3339 with nanoseconds and drops a zero fraction altogether ("...:05Z"): such an alert
    was dropped as unparsable (found replaying the demo's inbox)."""
    start = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    name, path = "CheckoutSuccessBudgetBurn", "/alerts/pager"
    records = [
        notification(path, start + 6, "firing", name, "2027-01-15T08:00:05Z"),
        notification(path, start + 38, "resolved", name, "2027-01-15T08:00:05Z"),
    ]
    seen = alerts_from_inbox(records, start, start + 60)
    assert [(a.name, a.fired_s, a.resolved_s) for a in seen] == [(name, 6.0, 38.0)]


def test_the_inbox_gives_each_alert_its_first_firing_and_resolution() -> None:
    start = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    records = [
        # Firing since before the scenario: the previous scenario's, not this one's.
        notification("/alerts/chat", start + 1, "firing", "SLIMissing", "2027-01-15T07:59:00Z"),
        notification(
            "/alerts/pager", start + 12, "firing", "CheckoutSuccessBudgetBurn", "2027-01-15T08:00:10.5Z"
        ),
        notification(
            "/alerts/pager", start + 14, "firing", "CheckoutSuccessBudgetBurn", "2027-01-15T08:00:10.5Z"
        ),
        notification(
            "/alerts/chat", start + 15, "firing", "HAProxyServerDown", "2027-01-15T08:00:14.123456789Z"
        ),
        notification(
            "/alerts/pager", start + 50, "resolved", "CheckoutSuccessBudgetBurn", "2027-01-15T08:00:10.5Z"
        ),
        notification("/alerts/watchdog", start + 20, "firing", "Watchdog", "2027-01-15T08:00:19Z"),
    ]
    seen = alerts_from_inbox(records, start, start + 60)
    assert [(a.name, a.page, a.fired_s, a.resolved_s) for a in seen] == [
        ("CheckoutSuccessBudgetBurn", True, 12.0, 50.0),
        ("HAProxyServerDown", False, 15.0, None),
    ]
