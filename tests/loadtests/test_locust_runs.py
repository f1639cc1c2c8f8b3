"""Real headless Locust runs against a real app process: pass, fail under injected faults, invalid when
the rate is impossible for the generator, and a malformed plan that runs nothing."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from peakops.paths import REPO_ROOT
from tests.conftest import ADMIN_TOKEN, StartApp
from tests.support.procs import AppProcess, free_port

DEMO_PLAN = REPO_ROOT / "campaigns" / "demo.yaml"
DEMO_CATALOG = REPO_ROOT / "app" / "seed" / "demo-catalog.yaml"


@pytest.fixture
def shop(start_app: StartApp, tmp_path: Path) -> AppProcess:
    return start_app(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}", PEAKOPS_CATALOG=str(DEMO_CATALOG))


def peakops_loadtest(host: str, report: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "loadtest", "--host", host, "--report-dir", str(report), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    summary_path = report / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return result.returncode, summary, result.stdout + result.stderr


@pytest.mark.timeout(120)
def test_plan_run_tracks_arrivals_and_funnel_and_passes(shop: AppProcess, tmp_path: Path) -> None:
    # Two worker processes: exercises the arrival share and the master's merge of worker reports.
    code, summary, output = peakops_loadtest(
        shop.url,
        tmp_path / "r",
        "--plan",
        str(DEMO_PLAN),
        "--duration",
        "15",
        "--peak-arrivals",
        "30",
        "--processes",
        "2",
    )
    assert code == 0, output
    verdict = summary["verdict"]
    assert verdict["outcome"] == "pass"
    for bucket in verdict["arrival_buckets"]:
        assert bucket["ratio"] >= 0.95, bucket
    arrivals = summary["arrivals"]
    assert arrivals["started"] == pytest.approx(arrivals["planned"], rel=0.05)
    funnel = summary["funnel"]
    plan = yaml.safe_load(DEMO_PLAN.read_text())["funnel"]
    assert funnel["browse_ratio"] == pytest.approx(plan["browse"], abs=0.12)
    assert funnel["cart_ratio"] == pytest.approx(plan["cart"], abs=0.15)
    assert funnel["checkout_ratio"] == pytest.approx(plan["checkout"], abs=0.25)
    assert summary["checkout"]["order"] > 0
    # One funnel: every checkout attempt, a new or a returning visitor's, has exactly one outcome.
    assert funnel["returning"] > 0
    assert funnel["checkout_attempts"] == funnel["checkout"] + funnel["returning_checkout"]
    assert sum(summary["checkout"].values()) == funnel["checkout_attempts"], (funnel, summary["checkout"])
    assert set(summary["definitions"]) >= {"funnel", "checkout", "cache", "cache_hit_ratio"}
    assert set(verdict["journeys"]) >= {"influencer", "organic"}
    assert (tmp_path / "r" / "report.html").read_text().count("<svg") == 5
    assert (tmp_path / "r" / "seconds.csv").read_text().startswith("second,planned_arrivals")
    assert (tmp_path / "r" / "locust_stats_history.csv").exists()  # Locust's own CSV history
    # The live progress the CLI shows: the last seconds' p95, and no cache ratio without an edge.
    progress = json.loads((tmp_path / "r" / "progress.json").read_text())
    assert progress["p95_ms"] > 0, progress
    assert progress["cache_hit_ratio"] is None


@pytest.mark.timeout(120)
def test_injected_checkout_faults_turn_the_verdict_to_fail(shop: AppProcess, tmp_path: Path) -> None:
    fault = httpx.post(
        f"{shop.url}/api/admin/faults",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={"route": "/api/checkout", "error_ratio": 0.5, "ttl_seconds": 120},
        timeout=10,
    )
    assert fault.status_code == 201
    code, summary, output = peakops_loadtest(
        shop.url, tmp_path / "r", "--plan", str(DEMO_PLAN), "--duration", "12", "--peak-arrivals", "30"
    )
    assert code == 1, output
    assert summary["verdict"]["outcome"] == "fail"
    reasons = " ".join(summary["verdict"]["reasons"])
    assert "checkout success" in reasons
    assert "Verdict: FAIL" in output


@pytest.mark.timeout(120)
def test_impossible_rate_is_invalid_not_fail(shop: AppProcess, tmp_path: Path) -> None:
    # Locust directly, as a user would run it: 2,000 arrivals/s with at most 100 visitor slots.
    report = tmp_path / "r"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            "loadtests/locustfile.py",
            "--headless",
            "--host",
            shop.url,
            "--plan",
            str(DEMO_PLAN),
            "--test-seconds",
            "10",
            "--peak-arrivals",
            "2000",
            "--max-slots",
            "100",
            "--report-dir",
            str(report),
            "--only-summary",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["verdict"]["outcome"] == "invalid"
    assert any("could not keep up" in r or "CPU" in r for r in summary["verdict"]["reasons"])


@pytest.mark.timeout(120)
def test_canned_spike_shape_runs_without_a_plan_timeline(shop: AppProcess, tmp_path: Path) -> None:
    code, summary, output = peakops_loadtest(
        shop.url, tmp_path / "r", "--shape", "spike", "--duration", "10", "--baseline-arrivals", "2",
        "--peak-arrivals", "12",
    )  # fmt: skip
    assert code == 0, output
    assert summary["source"] == "shape spike"
    seconds = summary["seconds"]
    assert max(r["planned_arrivals"] for r in seconds) > 5 * seconds[0]["planned_arrivals"]
    assert max(r["planned_arrivals"] for r in seconds) == pytest.approx(12, abs=0.05)  # not 10 x 2 / 0.99
    assert summary["arrivals"]["started"] == pytest.approx(summary["arrivals"]["planned"], rel=0.1)


def test_malformed_plan_is_exit_2_and_runs_nothing(tmp_path: Path) -> None:
    data = yaml.safe_load(DEMO_PLAN.read_text())
    data["influencers"][0]["reach"] = 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    code, summary, output = peakops_loadtest("http://127.0.0.1:9", tmp_path / "r", "--plan", str(bad))
    assert code == 2
    assert (
        f"{bad}: influencers[0] (slug 'lena-glow'): reach: Input should be less than or equal to 1" in output
    )
    assert summary == {}
    assert not (tmp_path / "r").exists()


LOCUST = [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py"]


def distributed_run(host: str, report: Path, workers: list[list[str]], *master_args: str) -> str:
    """A headless master (`--report-dir report`, MASTER_ARGS) and one worker process per entry of
    `workers` (its own arguments); waits for the master (120 s) and returns its output."""
    port = free_port()
    master = subprocess.Popen(
        [
            *LOCUST, "--master", "--headless", "--expect-workers", str(len(workers)),
            "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--host", host,
            "--report-dir", str(report), "--only-summary", *master_args,
        ],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    started = [
        subprocess.Popen(
            [*LOCUST, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), *args],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for args in workers
    ]
    try:
        output, _ = master.communicate(timeout=120)
        for worker in started:
            worker.wait(timeout=30)
    finally:
        processes: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = [master, *started]
        for process in processes:
            process.kill()
            process.wait()
    return output


@pytest.mark.timeout(150)
def test_workers_play_the_masters_plan_and_options_whatever_they_were_started_with(
    shop: AppProcess, tmp_path: Path
) -> None:
    """A worker started with other options, or bare, used to schedule from its own (a bare --worker
    replayed the unscaled plan: hundreds of arrivals per second). Now the master sends its plan and
    options to each worker before the test starts."""
    report = tmp_path / "r"
    other_plan = tmp_path / "other.yaml"
    data = yaml.safe_load(DEMO_PLAN.read_text())
    data["baseline"]["visitors_per_second"] = 400
    other_plan.write_text(yaml.safe_dump(data))
    worker_args = [
        [],  # bare: the default plan, unscaled
        ["--plan", str(other_plan), "--peak-arrivals", "500", "--test-seconds", "40", "--time-scale", "1"],
    ]
    output = distributed_run(
        shop.url,
        report,
        worker_args,
        "--plan",
        str(DEMO_PLAN),
        "--test-seconds",
        "12",
        "--peak-arrivals",
        "20",
    )
    summary = json.loads((report / "summary.json").read_text())
    assert summary["arrivals"]["planned"] == pytest.approx(
        sum(r["planned_arrivals"] for r in summary["seconds"]), rel=0.01
    )
    busiest = max(r["started_arrivals"] for r in summary["seconds"])
    assert busiest <= 20 * 1.25, output  # the master's --peak-arrivals 20, not 500 or the unscaled plan
    assert summary["arrivals"]["started"] == pytest.approx(summary["arrivals"]["planned"], rel=0.06), output
    assert len(summary["seconds"]) <= 12 + 8  # the master's 12 s timeline (plus the drain), not 40 s
    # The same summary in the master's log, for a run whose files nobody can reach (a Job in a cluster).
    line = next(x for x in output.splitlines() if "peakops summary: " in x)
    logged = json.loads(line.split("peakops summary: ", 1)[1])
    assert logged == {k: v for k, v in summary.items() if k != "seconds"}


@pytest.mark.timeout(150)
def test_the_masters_order_count_is_what_the_database_gained(start_app: StartApp, tmp_path: Path) -> None:
    """A master and a worker in separate processes: every order the worker saw acknowledged reaches the
    master's summary, however late in the run (the last report before quitting included)."""
    database = tmp_path / "shop.db"
    shop = start_app(f"sqlite+aiosqlite:///{database}", PEAKOPS_CATALOG=str(DEMO_CATALOG))
    report = tmp_path / "r"
    output = distributed_run(
        shop.url, report, [[]], "--plan", str(DEMO_PLAN), "--test-seconds", "20", "--peak-arrivals", "15"
    )
    summary = json.loads((report / "summary.json").read_text())
    with sqlite3.connect(database) as db:
        stored = db.execute("select count(*) from orders").fetchone()[0]
    assert summary["checkout"]["order"] > 0, output
    assert stored == summary["checkout"]["order"], (stored, summary["checkout"], output[-3000:])
