"""Influencer traffic from a campaign plan, for Locust.

    locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8000 \\
        --plan campaigns/demo.yaml --test-seconds 60 --time-scale 60 --peak-arrivals 40 \\
        --report-dir reports/run1

Runs headless locally (`--processes N` for more cores) or distributed (`--master` / `--worker`). The
shape follows the plan's arrival timeline (see loadtests.model, loadtests.arrivals); at the end the
verdict (loadtests.verdict) sets the exit code: 0 pass, 1 fail, 2 invalid, and the report directory
gets summary.json, seconds.csv and report.html.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import LoadTestShape, events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from locust.util.timespan import parse_timespan

from loadtests import journeys, report
from loadtests.arrivals import Arrivals
from loadtests.collector import Collector, merged, percentile
from loadtests.journeys import RunContext, Visitor
from loadtests.model import SHAPES, Timeline, from_plan, rescaled
from loadtests.verdict import CheckoutBar, checkout_bar, evaluate
from peakops.context import resolve
from peakops.paths import DEFAULT_PLAN, SPECS_DIR
from peakops.plan import CampaignPlan, PlanError, parse_plan
from peakops.slo import SpecError

__all__ = ["CampaignShape", "Visitor"]

DRAIN_S = 5  # after the last planned arrival, let journeys in flight finish
SLOT_HEADROOM = 1.5


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    group = parser.add_argument_group("peakops", "Influencer traffic from a campaign plan")
    group.add_argument("--plan", default=str(DEFAULT_PLAN), help="Campaign plan YAML (campaigns/*.yaml)")
    group.add_argument(
        "--slo-specs", default=str(SPECS_DIR), help="SLO specs directory: the checkout success bar's source"
    )
    group.add_argument(
        "--shape",
        default="",
        choices=["", *SHAPES],
        help="A canned shape instead of the plan's timeline (the plan still gives catalog and funnel)",
    )
    group.add_argument(
        "--test-seconds",
        type=parse_timespan,
        default=60,
        help="Length of the arrival timeline: 60, 20s, 1m30s, 2h (Locust's time spans)",
    )
    group.add_argument("--time-scale", type=float, default=60.0, help="Plan seconds per test second")
    group.add_argument(
        "--traffic-scale", type=float, default=None, help="Share of the plan's visitors to send"
    )
    group.add_argument(
        "--peak-arrivals",
        type=float,
        default=None,
        help="Scale traffic so the busiest second has this many arrivals (overrides --traffic-scale)",
    )
    group.add_argument(
        "--baseline-arrivals", type=float, default=2.0, help="Baseline arrivals/s of a canned shape"
    )
    group.add_argument(
        "--plan-start", default="", help="Plan time of test second 0 (default: before the first post)"
    )
    group.add_argument("--think-scale", type=float, default=1.0, help="Multiply the plan's think times")
    group.add_argument("--max-slots", type=int, default=5000, help="Upper bound on concurrent visitor slots")
    group.add_argument("--report-dir", default="", help="Write summary.json, seconds.csv, report.html here")


@dataclass(frozen=True)
class RunOptions:
    """What shapes a run besides the plan. A distributed run uses the master's: it sends them, with its
    plan, to every worker (`CONTEXT_MESSAGE`), so a worker's own flags and files play no part."""

    shape: str
    test_seconds: int
    time_scale: float
    traffic_scale: float | None
    peak_arrivals: float | None
    baseline_arrivals: float
    plan_start: str
    think_scale: float
    max_slots: int

    @classmethod
    def of(cls, options: Any) -> RunOptions:
        return cls(**{f.name: getattr(options, f.name) for f in fields(cls)})


CONTEXT_MESSAGE = "peakops_context"


def build_timeline(plan: CampaignPlan, options: RunOptions) -> Timeline:
    if options.shape:
        shape = SHAPES[options.shape](options.test_seconds, options.baseline_arrivals)
        return rescaled(shape, options.traffic_scale, options.peak_arrivals)
    if options.plan_start:
        start = datetime.fromisoformat(options.plan_start)
    else:
        first_post = min(i.post_time for i in plan.influencers)
        start = first_post - timedelta(seconds=options.test_seconds * options.time_scale * 0.1)
    return from_plan(
        plan,
        start=start,
        duration_s=options.test_seconds,
        time_scale=options.time_scale,
        traffic_scale=options.traffic_scale,
        peak_arrivals=options.peak_arrivals,
    )


def journey_seconds(plan: CampaignPlan, think_scale: float) -> float:
    """A visitor's expected time in the shop: Little's law turns it into the slots needed."""
    think = (plan.think_time.min_seconds + plan.think_time.max_seconds) / 2 * think_scale
    rtt = plan.mix.slow_mobile_share * plan.mix.slow_mobile_rtt_ms / 1000 * 8
    return 3 * think + rtt + 0.5


class CampaignShape(LoadTestShape):
    """Visitor slots for the planned arrival rate (never fewer than before: idle slots cost nothing,
    and stopping a slot would cut a visitor's journey short)."""

    slots = 0

    def tick(self) -> tuple[int, float] | None:
        run = journeys.context()
        elapsed = self.get_run_time()
        if elapsed > run.timeline.seconds + DRAIN_S:
            return None
        now = min(int(elapsed), run.timeline.seconds - 1)
        upcoming = max(run.timeline.totals[now : now + 5] or [0.0])
        needed = math.ceil(upcoming * journey_seconds(run.plan, run.think_scale) * SLOT_HEADROOM) + 10
        self.slots = max(self.slots, min(needed, run.max_slots))
        return self.slots, float(max(100, self.slots))


def install(plan: CampaignPlan, options: RunOptions, bar: CheckoutBar | None) -> RunContext:
    """The run context every visitor slot of this process shares (journeys.CONTEXT)."""
    timeline = build_timeline(plan, options)
    collector = Collector()
    journeys.CONTEXT = RunContext(
        plan,
        timeline,
        Arrivals(timeline, collector),
        collector,
        checkout_bar=bar,
        think_scale=options.think_scale,
        max_slots=options.max_slots,
        options=options,
    )
    return journeys.CONTEXT


def _from_master(environment: Environment, msg: Any, **_kwargs: Any) -> None:
    """Locust calls a custom message's listener as listener(environment=..., msg=...)."""
    plan = parse_plan(msg.data["plan"], "the master's campaign plan")
    install(plan, RunOptions(**msg.data["options"]), None)


def _drain() -> dict[str, Any]:
    run = journeys.CONTEXT
    return run.collector.drain() if run is not None else _empty()


@events.init.add_listener
def _setup(environment: Environment, **_kwargs: Any) -> None:
    options = environment.parsed_options
    if options is None:  # imported by a tool, not run by Locust
        return
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        # A worker plays the master's plan with the master's options, sent before each test starts.
        runner.register_message(CONTEXT_MESSAGE, _from_master)
        events.request.add_listener(_record_request)
        events.report_to_master.add_listener(lambda client_id, data: data.update(peakops=_drain()))
        return
    try:
        campaign = resolve(Path(options.plan), Path(options.slo_specs))
    except PlanError as exc:
        print(f"error: invalid campaign plan\n{exc}", file=sys.stderr)
        sys.exit(2)
    except SpecError as exc:
        print(f"error: invalid SLO spec\n{exc}", file=sys.stderr)
        sys.exit(2)
    run = install(campaign.plan, RunOptions.of(options), checkout_bar(campaign))
    if isinstance(runner, MasterRunner):
        events.worker_report.add_listener(
            lambda client_id, data: run.collector.merge(data.get("peakops") or _empty())
        )
    else:
        events.request.add_listener(_record_request)
    if options.report_dir:
        gevent.spawn(_write_progress, Path(options.report_dir), run)


def _record_request(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any = None,
    context: dict[str, Any] | None = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_kwargs: Any,
) -> None:
    run = journeys.CONTEXT
    if run is None:
        return
    journey = (context or {}).get("journey") or "other"
    started = start_time if start_time is not None else time.time()
    headers = getattr(response, "headers", None)
    x_cache = headers.get("X-Cache") if headers is not None else None
    run.collector.request(
        journey, run.arrivals.second_of(started), response_time, exception is not None, x_cache, name
    )


def _empty() -> dict[str, Any]:
    return Collector().drain()


@events.test_start.add_listener
def _start(environment: Environment, **_kwargs: Any) -> None:
    run = journeys.CONTEXT
    if run is None:
        if isinstance(environment.runner, WorkerRunner):
            print("error: the master sent no campaign context (peakops locustfile on both?)", file=sys.stderr)
            environment.runner.quit()
        return
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        # Before the spawn messages (Locust fires test_start first, on the same connection): every worker
        # has the master's plan and options when its own test starts.
        context = {"plan": run.plan.to_yaml(), "options": asdict(run.options)}
        runner.send_message(CONTEXT_MESSAGE, context)
        run.arrivals.started_mono, run.arrivals.started_wall = time.monotonic(), time.time()
        return
    if isinstance(runner, WorkerRunner):
        # Each worker sends its share of the arrivals. The master passes --expect-workers on to the
        # workers with every spawn message (--processes N sets it to N).
        workers = getattr(environment.parsed_options, "expect_workers", 1) or 1
        run.arrivals.share = 1.0 / max(1, int(workers))
    run.arrivals.start()
    gevent.spawn(_sample_cpu, run)


def _sample_cpu(run: RunContext) -> None:
    process = psutil.Process()
    process.cpu_percent(None)
    while not run.arrivals.finished:
        gevent.sleep(1.0)
        run.collector.cpu[run.arrivals.second_of(time.time())] = process.cpu_percent(None)


def _write_progress(directory: Path, run: RunContext) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    while True:
        gevent.sleep(1.0)
        elapsed = run.arrivals.elapsed()
        second = min(int(elapsed), run.timeline.seconds)
        progress = {
            "elapsed": round(elapsed, 1),
            "seconds": run.timeline.seconds,
            "planned": round(sum(run.timeline.totals[:second]), 1),
            "started": sum(run.collector.started.values()),
            "requests": sum(b["requests"] for b in run.collector.journeys.values()),
            "failures": sum(b["failures"] for b in run.collector.journeys.values()),
            "orders": run.collector.checkout.get("order", 0),
            # The last 5 s: what the run is doing now, not its average so far.
            "p95_ms": percentile(
                merged(b["rt"] for (_j, s), b in run.collector.journeys.items() if s >= second - 5), 0.95
            ),
            "cache_hit_ratio": report.hit_ratio(run.collector.cache.values()),
        }
        tmp = directory / "progress.json.tmp"
        tmp.write_text(json.dumps(progress))
        tmp.replace(directory / "progress.json")


@events.quitting.add_listener
def _verdict(environment: Environment, **_kwargs: Any) -> None:
    run = journeys.CONTEXT
    if run is None or isinstance(environment.runner, WorkerRunner):
        return
    elapsed = min(run.arrivals.elapsed(), float(run.timeline.seconds))
    verdict = evaluate(run.timeline, run.collector, run.plan.thresholds, run.checkout_bar, elapsed)
    rows = report.per_second(run.timeline, run.collector, run.timeline.seconds)
    options = environment.parsed_options
    data = report.summary(
        run.timeline,
        run.collector,
        verdict,
        elapsed,
        rows,
        {
            "host": environment.host,
            "plan": str(options.plan) if options else "",
            "checkout_success_threshold": (
                f"{run.checkout_bar.ratio:.2%} from {run.checkout_bar.source}" if run.checkout_bar else "none"
            ),
        },
    )
    if options is not None and options.report_dir:
        report.write_all(Path(options.report_dir), data)
    for reason in verdict.reasons:
        print(f"peakops verdict: {reason}", file=sys.stderr)
    # One line a log collector keeps (`kubectl logs job/locust-master` when it runs in the cluster): the
    # summary without its per-second rows, which --report-dir writes.
    print(
        "peakops summary: " + json.dumps({k: v for k, v in data.items() if k != "seconds"}), file=sys.stderr
    )
    environment.process_exit_code = int(verdict.outcome)
