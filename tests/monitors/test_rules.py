"""The generated rules: burn-rate arithmetic, then promtool on the real files (checks and unit tests)."""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from monitors import fixtures
from monitors.generate import contexts
from monitors.rules import TIERS, SLOContext
from peakops.context import resolve
from peakops.paths import GENERATED_DIR, REPO_ROOT

PROMTOOL = "promtool"
HAND_WRITTEN = REPO_ROOT / "monitors" / "tests"


@pytest.fixture(scope="module")
def ctxs() -> list[SLOContext]:
    return contexts(resolve())


def test_burn_factors_for_30_days_are_the_workbook_ones() -> None:
    month = timedelta(days=30)
    assert [tier.factor(month) for tier in TIERS] == [14.4, 6.0, 3.0, 1.0]


def test_burn_factors_rescale_for_other_periods() -> None:
    week = timedelta(days=7)
    # 2% of a week's budget in 1 h is a 3.36x burn; 5% in 6 h is 1.4x; the ticket tiers floor at 1x.
    assert [tier.factor(week) for tier in TIERS] == [3.36, 1.4, 1.0, 1.0]
    # A 2-day period has no 3-day window to look at.
    assert TIERS[3].factor(timedelta(days=2)) is None


def test_scenarios_say_what_the_issue_asks(ctxs: list[SLOContext]) -> None:
    """The fixtures' expectations, checked against the intent; promtool then checks the rules against them."""
    for ctx in ctxs:
        found = {s.name: s for s in fixtures.scenarios(ctx)}
        outage = fixtures.Model(ctx, found["outage"])
        start, before, deadline = found["outage"].checks
        detection = ctx.tiers("page")[0][1] * float(ctx.budget) * 3600
        assert deadline - start <= detection + fixtures.STEP, ctx.slo.name
        assert outage.burn_value(start, "page") is None
        assert outage.burn_value(before, "page") is None, f"{ctx.slo.name} paged before the theory allows"
        assert outage.burn_value(deadline, "page") is not None, f"{ctx.slo.name} did not page in time"

        burn = fixtures.Model(ctx, found["burn-10x"])
        end = found["burn-10x"].checks[-1]
        assert burn.burn_value(end, "ticket") is not None
        assert burn.burn_value(end, "page") is None

        spike = fixtures.Model(ctx, found["spike"])
        assert all(
            spike.burn_value(t, severity) is None
            for t in found["spike"].checks
            for severity in ("page", "ticket")
        )
        if ctx.slo.peakops.min_events_per_second > 0:
            low = fixtures.Model(ctx, found["low-volume"])
            t = found["low-volume"].checks[-1]
            assert low.burn_value(t, "page") is None
            assert low.burn_value(t, "page", guarded=False) is not None, "the guard is what holds the page"


def test_99_9_over_30_days_pages_within_52_seconds_plus_one_evaluation(ctxs: list[SLOContext]) -> None:
    checkout = next(c for c in ctxs if c.slo.name == "checkout-availability")
    outage = next(s for s in fixtures.scenarios(checkout) if s.name == "outage")
    start, _, deadline = outage.checks
    assert deadline - start == 60  # 51.84 s of budget at 14.4x, plus a 15 s evaluation, on a 15 s grid


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_promtool_check_rules_on_the_rules_and_the_prometheusrule(tmp_path: Path) -> None:
    files = sorted(p.name for p in (GENERATED_DIR / "rules").glob("*.yml"))
    # One file per service, per SLO, and the watchdog: Prometheus loads rules/*.yml.
    assert "watchdog.yml" in files
    assert "shop.yml" in files
    assert "shop-checkout-availability.yml" in files
    checked = promtool("check", "rules", *files, cwd=GENERATED_DIR / "rules")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("SUCCESS") == len(files)
    manifest = yaml.safe_load((GENERATED_DIR / "prometheusrule.yaml").read_text())
    (tmp_path / "from-manifest.yml").write_text(yaml.safe_dump({"groups": manifest["spec"]["groups"]}))
    checked = promtool("check", "rules", "from-manifest.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_unit_tests_generated_and_hand_written() -> None:
    files = sorted((GENERATED_DIR / "tests").glob("*.test.yml")) + sorted(HAND_WRITTEN.glob("*.test.yml"))
    assert len(files) >= 8

    def run(path: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
        return path, promtool("test", "rules", path.name, cwd=path.parent)

    # Each file evaluates ~120 rules every 15 s over hours of series: one per core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, files))
    failed = {str(p.relative_to(REPO_ROOT)): r.stdout[-3000:] for p, r in results if r.returncode != 0}
    assert not failed, failed


def test_promtool_catches_a_broken_rule(tmp_path: Path) -> None:
    """The fixtures can fail: with a page threshold twice too high, the outage page comes too late."""
    rules = tmp_path / "rules"
    shutil.copytree(GENERATED_DIR / "rules", rules)
    target = rules / "shop-checkout-availability.yml"
    text = target.read_text()
    assert "(14.4 * 0.001)" in text
    target.write_text(text.replace("(14.4 * 0.001)", "(28.8 * 0.001)"))
    tests = tmp_path / "tests"
    tests.mkdir()
    fixture = GENERATED_DIR / "tests" / "shop-checkout-availability.test.yml"
    (tests / fixture.name).write_text(fixture.read_text())
    result = promtool("test", "rules", fixture.name, cwd=tests)
    assert result.returncode != 0
    assert "alertname: CheckoutAvailabilityBudgetBurn" in result.stdout + result.stderr
