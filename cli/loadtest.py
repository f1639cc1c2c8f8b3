"""`peakops loadtest`: run Locust on the campaign plan (or a canned shape) with a progress view, then
print the verdict. Exit codes: 0 pass, 1 fail, 2 invalid (or a bad plan: nothing run), 3 Locust broke.

It composes `locust -f loadtests/locustfile.py --headless ...`, which works on its own too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.campaign import PlanOption, SpecsOption, campaign
from peakops.context import CampaignContext
from peakops.paths import LOCUSTFILE, REPO_ROOT
from peakops.plan import MAX_ARRIVALS, MAX_TIME_SCALE

SHAPE_NAMES = ("spike", "waves", "flash-sale", "soak")
# Locust's own time spans (`-t 20s`, `1m30s`, `2h`, or plain seconds), as locust.util.timespan reads them;
# that module is not imported here because importing locust monkey-patches the CLI process with gevent.
TIMESPAN = re.compile(r"^(?:(?P<hours>\d+)h)?(?:(?P<minutes>\d+)m)?(?:(?P<seconds>\d+)s)?$")
MIN_DURATION_S, MAX_DURATION_S = 5, 86_400


def timespan_seconds(text: str | int) -> int:
    """ "20s" -> 20, "1m30s" -> 90, "2h" -> 7200, "45" -> 45; raises typer.BadParameter otherwise."""
    text = str(text).strip()  # the default arrives as an int
    match = TIMESPAN.match(text)
    if text.isdigit():
        seconds = int(text)
    elif match and text:
        seconds = sum(
            int(match[unit] or 0) * size for unit, size in (("hours", 3600), ("minutes", 60), ("seconds", 1))
        )
    else:
        raise typer.BadParameter(f"{text!r} is not a time span such as 20, 20s, 3m, 2h, 1h20m, 3h30m10s")
    if not MIN_DURATION_S <= seconds <= MAX_DURATION_S:
        raise typer.BadParameter(
            f"{text!r} is {seconds} s; give {MIN_DURATION_S} s to {MAX_DURATION_S // 3600} h"
        )
    return seconds


def locust_command(
    host: str,
    campaign: CampaignContext,
    shape: str | None,
    duration: int,
    report_dir: Path,
    *,
    processes: int = 0,
    peak_arrivals: float | None = None,
    time_scale: float = 60.0,
    traffic_scale: float | None = None,
    baseline_arrivals: float = 2.0,
    think_scale: float = 1.0,
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "--plan",
        str(campaign.plan_path),
        "--slo-specs",
        str(campaign.specs_dir),
        "--test-seconds",
        str(duration),
        "--time-scale",
        str(time_scale),
        "--think-scale",
        str(think_scale),
        "--report-dir",
        str(report_dir),
        "--csv",
        str(report_dir / "locust"),
        "--csv-full-history",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    if shape:
        command += ["--shape", shape, "--baseline-arrivals", str(baseline_arrivals)]
    if peak_arrivals is not None:
        command += ["--peak-arrivals", str(peak_arrivals)]
    if traffic_scale is not None:
        command += ["--traffic-scale", str(traffic_scale)]
    if processes:
        command += ["--processes", str(processes)]
    return command


def run_loadtest(
    command: list[str],
    report_dir: Path,
    duration: int,
    console: Console,
    extra: Callable[[], str] | None = None,
    label: str = "load test",
) -> tuple[int, dict[str, Any]]:
    """Run Locust with a live progress bar (arrivals planned and started, requests, failures, orders, p95
    of the last 5 s, cache hit ratio of the cached routes, and `extra()`'s text); return its exit code
    and the summary it wrote."""
    report_dir.mkdir(parents=True, exist_ok=True)
    log_path = report_dir / "locust.log"
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with log_path.open("wb") as log, Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=duration, detail="starting")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        progress_file = report_dir / "progress.json"
        while process.poll() is None:
            time.sleep(0.5)
            try:
                state = json.loads(progress_file.read_text())
            except (OSError, ValueError):
                continue
            ratio = state.get("cache_hit_ratio")
            detail = (
                f"arrivals {state['started']}/{state['planned']:.0f} planned  "
                f"requests {state['requests']}  failures {state['failures']}  orders {state['orders']}  "
                f"p95 {state.get('p95_ms', 0):.0f} ms  cache {f'{ratio:.0%}' if ratio is not None else '-'}"
            )
            if extra is not None:
                detail += f"  {extra()}"
            progress.update(task, completed=min(state["elapsed"], duration), detail=detail)
        progress.update(task, completed=duration)
    summary_path = report_dir / "summary.json"
    if not summary_path.exists():
        console.print(
            f"[red]Locust ended (exit {process.returncode}) without a summary[/red]; see {log_path}"
        )
        console.print(log_path.read_text(errors="replace")[-3000:], markup=False)
        return 3, {}
    return process.returncode, json.loads(summary_path.read_text())


def print_summary(summary: dict[str, Any], console: Console) -> None:
    verdict = summary["verdict"]
    colour = {"pass": "green", "fail": "red", "invalid": "yellow"}[verdict["outcome"]]
    console.print(f"\nVerdict: [bold {colour}]{verdict['outcome'].upper()}[/bold {colour}]")
    for reason in verdict["reasons"]:
        console.print(f"  - {reason}", markup=False)
    table = Table(
        title=f"Journeys over the peak window (seconds {verdict['peak_window'][0]}-"
        f"{verdict['peak_window'][1]}; percentiles within +{summary['latency_relative_error']:.0%})"
    )
    for column in ("journey", "requests", "errors", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "journey" else "right")
    for name, j in verdict["journeys"].items():
        table.add_row(
            name,
            str(j["requests"]),
            f"{j['error_ratio']:.2%}",
            f"{j['p50_ms']:.0f}",
            f"{j['p95_ms']:.0f}",
            f"{j['p99_ms']:.0f}",
        )
    console.print(table)
    arrivals, funnel = summary["arrivals"], summary["funnel"]
    console.print(
        f"arrivals: planned {arrivals['planned']:.0f}, started {arrivals['started']}, "
        f"dropped {arrivals['dropped']}   funnel: landing {funnel['landing']} -> "
        f"browse {funnel['browse']} -> cart {funnel['cart']} -> checkout {funnel['checkout']}; "
        f"returning {funnel['returning']} -> checkout {funnel['returning_checkout']}"
    )
    outcomes = ", ".join(f"{name} {n}" for name, n in sorted(summary["checkout"].items()))
    console.print(f"checkout attempts {funnel['checkout_attempts']}: {outcomes or 'none'}")
    if "checkout_success_threshold" in summary:
        console.print(f"checkout success threshold: {summary['checkout_success_threshold']}")


def loadtest(
    host: Annotated[str, typer.Option(help="Base URL of the shop (the edge, once it exists).")],
    plan: PlanOption = None,
    specs: SpecsOption = None,
    shape: Annotated[
        str | None, typer.Option(help=f"Canned shape instead of a plan: {', '.join(SHAPE_NAMES)}.")
    ] = None,
    duration: Annotated[
        int,
        typer.Option(
            help="Test length, as Locust's -t takes it: 60, 20s, 1m30s, 2h.", parser=timespan_seconds
        ),
    ] = 60,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the JSON summary here.")] = None,
    report_dir: Annotated[
        Path | None, typer.Option(help="Directory for summary, CSV and HTML report.")
    ] = None,
    processes: Annotated[int, typer.Option(help="Locust worker processes (0: one process).", min=0)] = 0,
    peak_arrivals: Annotated[
        float | None, typer.Option(help="Arrivals in the busiest second.", min=0.01, max=MAX_ARRIVALS)
    ] = None,
    time_scale: Annotated[
        float, typer.Option(help="Plan seconds per test second.", min=0.01, max=MAX_TIME_SCALE)
    ] = 60.0,
    baseline_arrivals: Annotated[
        float, typer.Option(help="Baseline arrivals/s of a canned shape.", min=0, max=MAX_ARRIVALS)
    ] = 2.0,
) -> None:
    """Simulate influencer traffic from a campaign plan and judge it against the thresholds."""
    console = Console()
    if plan is None and shape is None:
        typer.echo(
            "error: give --plan FILE, or --shape NAME (with --plan for its catalog and funnel)", err=True
        )
        raise typer.Exit(2)
    if shape is not None and shape not in SHAPE_NAMES:
        typer.echo(f"error: --shape: unknown shape {shape!r}; choose from {', '.join(SHAPE_NAMES)}", err=True)
        raise typer.Exit(2)
    context = campaign(plan, specs)  # a malformed plan or spec stops here: nothing is run
    directory = report_dir or Path(tempfile.mkdtemp(prefix="peakops-loadtest-"))
    command = locust_command(
        host,
        context,
        shape,
        duration,
        directory,
        processes=processes,
        peak_arrivals=peak_arrivals,
        time_scale=time_scale,
        baseline_arrivals=baseline_arrivals,
    )
    code, summary = run_loadtest(command, directory, duration, console)
    if summary:
        print_summary(summary, console)
        console.print(f"report: {directory / 'report.html'}")
        if json_out is not None:
            shutil.copyfile(directory / "summary.json", json_out)
    raise typer.Exit(code)
