"""The campaign plan: the demo plan loads; malformed plans name the file and the field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from app.catalog import parse_catalog
from cli.plan import render_catalog
from peakops.paths import DEFAULT_PLAN as DEMO
from peakops.plan import PlanError, load_plan, parse_plan


def demo_data() -> dict[str, object]:
    data = yaml.safe_load(DEMO.read_text())
    assert isinstance(data, dict)
    return data


def broken(mutate: object) -> str:
    data = demo_data()
    assert callable(mutate)
    mutate(data)
    return yaml.safe_dump(data)


def test_demo_plan_loads_with_local_times_in_the_window_zone() -> None:
    plan = load_plan(DEMO)
    lena = plan.influencers[0]
    assert lena.post_time.astimezone(UTC) == datetime(2026, 12, 3, 18, 0, tzinfo=UTC)  # 19:00 in Berlin
    assert plan.window.start.utcoffset() is not None
    assert lena.expected_visitors == pytest.approx(6000)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["influencers"][1].update(click_through=2),
            "influencers[1] (slug 'marco-fit'): click_through: Input should be less than or equal to 1",
        ),
        (
            lambda d: d["influencers"][0].pop("followers"),
            "influencers[0] (slug 'lena-glow'): followers: Field required",
        ),
        (
            lambda d: d["window"].update(timezone="Mars/Olympus"),
            "window.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (lambda d: d["window"].update(end="2026-12-03T17:00:00"), "window: end must be after start"),
        (
            lambda d: d["influencers"][2].update(post_time="2026-12-04T09:00:00"),
            "influencers[2].post_time: outside the campaign window",
        ),
        (lambda d: d["drops"][0].update(sku="NOPE"), "drops[0].sku: 'NOPE' is not among the products"),
        (lambda d: d["funnel"].update(cart=1.5), "funnel.cart: Input should be less than or equal to 1"),
        (
            lambda d: d["thresholds"]["journeys"].update(
                checkout_page={"p95_ms": 1, "p99_ms": 2, "max_error_ratio": 0}
            ),
            "thresholds.journeys: unknown journeys ['checkout_page']",
        ),
        (lambda d: d.update(colour="red"), "colour: Extra inputs are not permitted"),
        # What the app's catalog seed would refuse, refused here: the plan's products and influencers
        # are the catalog's models (peakops/catalog.py).
        (
            lambda d: d["products"].append(dict(d["products"][0])),
            "products[5]: sku: duplicate 'GLOW-SERUM' (first at products[0])",
        ),
        (
            lambda d: d["influencers"][1].update(promo_code="lena15"),
            "influencers[1]: promo_code: duplicate 'LENA15' (first at influencers[0])",
        ),
        (
            lambda d: d["products"][0].update(price=1.234),
            "products[0] (sku 'GLOW-SERUM'): price: Decimal input should have no more than 2 decimal places",
        ),
        (
            lambda d: d["thresholds"].update(min_checkout_success_ratio=0.98),
            "thresholds: min_checkout_success_ratio: the checkout success bar is the objective of the SLO",
        ),
        # The rehearsal's scenarios (peakops rehearse).
        (
            lambda d: d["rehearsal"]["scenarios"][1]["fault"].update(kind="meteor"),
            "rehearsal.scenarios[1].fault.kind: Input should be 'payment_failure', 'payment_slow'",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][1]["fault"].update(duration_seconds=60),
            "rehearsal: scenarios[1] (payment-outage).fault: ends at 65 s, after the traffic (30 s)",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"].append({"name": "healthy"}),
            "rehearsal: scenarios: names must be unique; repeated: ['healthy']",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][0].update(
                expect={"fire": [{"alert": "X", "within_seconds": 5}]}
            ),
            "rehearsal: scenarios[0] (healthy).expect.fire: no fault to fire on",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][0].update(expect={"may_page": ["X"]}),
            "rehearsal: scenarios[0] (healthy).expect.may_page: no fault to fire on",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][1]["expect"].update(
                may_page=["CheckoutSuccessBudgetBurn", "LandingAvailabilityBudgetBurn"],
                quiet=["LandingAvailabilityBudgetBurn"],
            ),
            "rehearsal: scenarios[1] (payment-outage).expect: ['CheckoutSuccessBudgetBurn'] in both fire and "
            "may_page",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][1]["fault"].update(kind="origin_slow"),
            "rehearsal.scenarios[1].fault: latency_ms: origin_slow needs latency_ms > 0",
        ),
        (
            lambda d: d["rehearsal"]["capacity"].update(steps=[4, 8, 8]),
            "rehearsal.capacity.steps: steps must increase",
        ),
        (
            lambda d: d["rehearsal"]["capacity"].update(journey="checkout"),
            "rehearsal.capacity.journey: 'checkout' has no thresholds",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][1]["expect"]["fire"][0].update(within_seconds=-1),
            "rehearsal.scenarios[1].expect.fire[0].within_seconds: Input should be greater than 0",
        ),
        # Infinities and overflows (found by hostile plans: they passed and the stack started).
        (
            lambda d: d["rehearsal"]["scenarios"][1]["expect"]["fire"][0].update(within_seconds=float("inf")),
            "rehearsal.scenarios[1].expect.fire[0].within_seconds: Input should be a finite number",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][1]["expect"].update(resolve_within_seconds=1e300),
            "rehearsal.scenarios[1].expect.resolve_within_seconds: Input should be less than or equal to "
            "3600",
        ),
        (
            lambda d: d["rehearsal"].update(peak_arrivals=float("inf")),
            "rehearsal.peak_arrivals: Input should be a finite number",
        ),
        (
            lambda d: d["rehearsal"].update(peak_arrivals=1e308),
            "rehearsal.peak_arrivals: Input should be less than or equal to 1000000",
        ),
        (
            lambda d: d["baseline"].update(visitors_per_second=float("inf")),
            "baseline.visitors_per_second: Input should be a finite number",
        ),
        (
            lambda d: d["influencers"][0].update(followers=10**400),
            "influencers[0] (slug 'lena-glow'): followers: Input should be less than or equal to 10000000000",
        ),
        (
            lambda d: d["influencers"][0]["decay"].update(half_life_seconds=float("nan")),
            "influencers[0] (slug 'lena-glow'): decay.half_life_seconds: Input should be a finite number",
        ),
        (
            lambda d: d["rehearsal"]["capacity"].update(steps=[1, float("inf")]),
            "rehearsal.capacity.steps[1]: Input should be a finite number",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][1]["expect"]["fire"].append(
                {"alert": "CheckoutSuccessBudgetBurn", "within_seconds": 60}
            ),
            "rehearsal.scenarios[1].expect: fire: each name once; repeated: ['CheckoutSuccessBudgetBurn']",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][1]["expect"].update(
                fire=[{"alert": "A" * 201, "within_seconds": 5}]
            ),
            "rehearsal.scenarios[1].expect.fire[0].alert: String should have at most 200 characters",
        ),
        # Settings nothing would read, refused rather than ignored.
        (
            lambda d: d["rehearsal"]["scenarios"][0].update(expect={"resolve_within_seconds": 30}),
            "rehearsal: scenarios[0] (healthy).expect.resolve_within_seconds: no fault to resolve after",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][1]["fault"].update(latency_ms=300),
            "rehearsal.scenarios[1].fault: latency_ms: only payment_slow and origin_slow add latency, not "
            "payment_failure",
        ),
        (
            lambda d: d["rehearsal"]["scenarios"][2]["fault"].update(ratio=0.5),
            "rehearsal.scenarios[2].fault: ratio: only payment_failure fails a share of payments, not "
            "database_restart",
        ),
    ],
)
def test_malformed_plan_names_the_field(mutate: object, expected: str) -> None:
    with pytest.raises(PlanError) as error:
        parse_plan(broken(mutate), "campaigns/bad.yaml")
    assert f"campaigns/bad.yaml: {expected}" in str(error.value)


def test_unreadable_and_non_mapping_plans(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read campaign plan"):
        load_plan(tmp_path / "missing.yaml")
    with pytest.raises(PlanError, match="expected a mapping"):
        parse_plan("- a list", "x.yaml")
    with pytest.raises(PlanError, match="not valid YAML"):
        parse_plan("name: [", "x.yaml")


def test_undecodable_deep_and_doubled_plans_are_refused_with_their_place(tmp_path: Path) -> None:
    """Found by hostile plans: these were tracebacks, or (a key given twice) silently the last one."""
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"# caf\xe9\n" + DEMO.read_bytes())
    with pytest.raises(PlanError, match=r"latin1\.yaml: not UTF-8 text: byte 0xe9 at offset 5$"):
        load_plan(latin1)
    with pytest.raises(PlanError, match=r"x\.yaml: not valid YAML: nested too deeply"):
        parse_plan("name: x\nrehearsal: " + "[" * 5000 + "]" * 5000 + "\n", "x.yaml")
    doubled = DEMO.read_text() + "rehearsal:\n  scenarios: [{name: other}]\n"
    with pytest.raises(PlanError) as caught:
        parse_plan(doubled, "x.yaml")
    assert "x.yaml: not valid YAML: while constructing a mapping" in str(caught.value)
    assert "found duplicate key 'rehearsal'" in str(caught.value)


def test_offsets_and_local_times_mean_the_same_moment() -> None:
    local = parse_plan(DEMO.read_text(), "local")
    explicit = parse_plan(
        DEMO.read_text().replace("post_time: 2026-12-03T19:00:00", "post_time: 2026-12-03T18:00:00Z"),
        "explicit",
    )
    assert local.influencers[0].post_time == explicit.influencers[0].post_time


def test_the_generated_seed_of_any_valid_plan_is_a_valid_seed() -> None:
    """The seed is derived from the plan with the same models: the app accepts what the plan passed."""
    seed = parse_catalog(render_catalog(load_plan(DEMO), DEMO), "seed.yaml")
    plan = load_plan(DEMO)
    assert [p.sku for p in seed.products] == [p.sku for p in plan.products]
    assert [i.promo_code for i in seed.influencers] == [i.promo_code for i in plan.influencers]


def test_the_plan_round_trips_through_its_yaml_copy() -> None:
    plan = load_plan(DEMO)
    assert parse_plan(plan.to_yaml(), "copy.yaml") == plan
