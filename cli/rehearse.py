"""`peakops rehearse`: the launch rehearsal on the local stack, go or no-go.

Brings the stack up with Ansible (the SLO rules compressed by --time-scale), then plays each scenario of
the plan's `rehearsal:` section in order: the plan's first spike compressed to the scenario's traffic
seconds (Locust, through the edge), its fault applied and cleared on the timeline (the app's fault API
or the supervisor), then it waits out the expected alerts' bounds and their resolution. Each scenario is
judged (peakops/rehearsal.py) on the load test's verdict, the alerts the on-call inbox got, and the
orders counted in the database against the generator's acknowledgements. The report (--report DIR):
summary.json, summary.md, report.html; each scenario's load test report beside them.

Exit codes: 0 go, 1 no-go, 2 invalid (the generator could not produce the load, a component or a
scenario the plan names is missing, the plan is malformed), 3 the stack did not come up.
Traffic goes only to the stack on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli import stack
from cli.campaign import campaign
from cli.loadtest import locust_command, run_loadtest
from peakops.context import CampaignContext
from peakops.metrics import HTTP_REQUESTS, ORDERS
from peakops.paths import ANSIBLE_DIR, REPO_ROOT, relative
from peakops.plan import MAX_TIME_SCALE, Fault, Scenario
from peakops.rehearsal import (
    EXIT_CODES,
    Accounting,
    AlertSeen,
    Line,
    Observed,
    ScenarioResult,
    alerts_from_inbox,
    judge,
    overall,
)

# After the traffic, how long a scenario without expected alerts still listens for a page.
SETTLE_SECONDS = 10.0
# Before the next scenario: the previous one's pages must have stayed resolved for QUIET_HELD_SECONDS
# (or QUIET_BEFORE_SECONDS passed). Held, because a page flaps after a fault while only sparse synthetic
# probes feed its minimum-events gate (README): the first quiet moment let a flap land in the next scenario.
QUIET_BEFORE_SECONDS = 120.0
QUIET_HELD_SECONDS = 20.0


class SupervisorError(subprocess.SubprocessError):
    """supervisorctl reported an error: its words, and what it was asked."""


class StackDatabase(enum.Enum):
    """The local stack's database (ansible/inventories/local: peakops_database)."""

    sqlite = "sqlite"
    postgresql = "postgresql"


class Rig:
    """The running local stack as a rehearsal drives it: its URLs, the admin token, supervisorctl."""

    def __init__(self, urls: dict[str, Any], stack_dir: Path, database: str = "sqlite") -> None:
        self.urls = urls
        self.stack_dir = stack_dir
        self.database = database
        self.admin_token = (stack_dir / "secrets" / "admin_token").read_text().split()[0]
        self._firing_at = 0.0
        self._firing = "firing: -"

    @property
    def instances(self) -> list[str]:
        return list(self.urls["app_instances"]) + list(self.urls["app_backup_instances"])

    def supervisorctl(self, *args: str) -> str:
        """Run supervisorctl on the stack's supervisord; its output. Raises SupervisorError
        when it reports an error (an "already started" program is not one: supervisord restarts what it
        runs), so a fault that did not happen is never reported as done."""

        config = self.stack_dir / "supervisor" / "supervisord.conf"
        command = ["/usr/bin/supervisorctl", "-c", str(config), *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
        output = str(done.stdout) + str(done.stderr)
        if (done.returncode != 0 or "ERROR" in output) and "already started" not in output:
            raise SupervisorError(
                f"supervisorctl {' '.join(args)}: {output.strip()} (exit {done.returncode})"
            )
        return output

    def set_faults(self, spec: dict[str, Any] | None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {self.admin_token}"}
        for url in self.instances:
            if spec is None:
                httpx.delete(f"{url}/api/admin/faults", headers=headers, timeout=5).raise_for_status()
            else:
                httpx.post(
                    f"{url}/api/admin/faults", headers=headers, json=spec, timeout=5
                ).raise_for_status()

    def first_instance_program(self) -> str:
        return "campaign-app-" + str(self.urls["app_instances"][0]).rsplit(":", 1)[1]

    def apply(self, fault: Fault) -> str:
        """Start `fault`; returns what was done, for the timeline."""
        ttl = fault.duration_seconds + 60  # heals itself if the rehearsal dies
        if fault.kind == "payment_failure":
            self.set_faults({"payment_failure_ratio": fault.ratio, "ttl_seconds": ttl})
            return f"every instance fails {fault.ratio:.0%} of payments"
        if fault.kind == "payment_slow":
            self.set_faults({"route": "/api/checkout", "latency_ms": fault.latency_ms, "ttl_seconds": ttl})
            return f"checkout (payment) +{fault.latency_ms} ms on every instance"
        if fault.kind == "origin_slow":
            self.set_faults({"latency_ms": fault.latency_ms, "ttl_seconds": ttl})
            return f"every origin route +{fault.latency_ms} ms"
        if fault.kind == "app_kill":
            program = self.first_instance_program()
            self.supervisorctl("signal", "KILL", program)
            return f"{program} SIGKILLed (supervisorctl signal KILL)"
        if fault.kind == "edge_reload":
            self.supervisorctl("signal", "HUP", "edge")
            return "edge reloaded (supervisorctl signal HUP edge)"
        if fault.kind == "edge_restart":
            self.supervisorctl("stop", "edge")
            return "edge stopped (supervisorctl stop edge)"
        if fault.kind == "database_restart":
            if self.database != "postgresql":
                raise MissingComponent(f"{fault.kind}: the local stack has no database server (SQLite)")
            # SIGINT, PostgreSQL's fast shutdown: open transactions roll back, clients are disconnected.
            self.supervisorctl("stop", "database")
            return "PostgreSQL stopped (supervisorctl stop database: a fast shutdown)"
        raise MissingComponent(f"{fault.kind}: not a fault the local stack can play")

    def clear(self, fault: Fault) -> str:
        if fault.kind in ("payment_failure", "payment_slow", "origin_slow"):
            self.set_faults(None)
            return "faults cleared on every instance"
        if fault.kind == "app_kill":
            program = self.first_instance_program()
            self.supervisorctl("start", program)  # supervisord restarts it itself; this makes sure
            return f"{program} running"
        if fault.kind == "edge_restart":
            self.supervisorctl("start", "edge")
            return "edge started"
        if fault.kind == "database_restart":
            self.supervisorctl("start", "database")
            return "PostgreSQL started"
        return "nothing to clear"

    def inbox(self) -> list[dict[str, Any]]:
        import httpx

        records: list[dict[str, Any]] = httpx.get(f"{self.urls['inbox']}/notifications", timeout=10).json()
        return records

    def firing_pages(self) -> list[str]:
        """Alertmanager's active alerts that page (to know the previous scenario has quietened)."""
        import httpx

        alerts = httpx.get(
            f"{self.urls['alertmanager']}/api/v2/alerts", params={"active": "true"}, timeout=10
        ).json()
        return [
            a["labels"].get("alertname", "")
            for a in alerts
            if "pager" in [r["name"] for r in a.get("receivers", [])]
        ]

    def firing_summary(self) -> str:
        """ "firing: A, B" from Alertmanager's active alerts (the watchdog left out), asked at most every
        2 s: the live progress line calls it twice a second."""
        import httpx

        now = time.monotonic()
        if now - self._firing_at >= 2:
            self._firing_at = now
            try:
                alerts = httpx.get(
                    f"{self.urls['alertmanager']}/api/v2/alerts", params={"active": "true"}, timeout=2
                ).json()
                names = sorted({a["labels"].get("alertname", "") for a in alerts} - {"Watchdog", ""})
                self._firing = f"firing: {', '.join(names) or 'none'}"
            except (httpx.HTTPError, ValueError):
                self._firing = "firing: (Alertmanager not answering)"
        return self._firing

    def prometheus_range(self, query: str, start: float, end: float) -> list[dict[str, Any]]:
        import httpx

        answer = httpx.get(
            f"{self.urls['prometheus']}/api/v1/query_range",
            params={"query": query, "start": start, "end": end, "step": "1s"},
            timeout=20,
        ).json()
        result: list[dict[str, Any]] = answer.get("data", {}).get("result", [])
        return result

    def prometheus_value(self, query: str, at: float) -> int:
        """An instant query's single value at `at` (epoch s), as an integer (0 without data)."""
        import httpx

        answer = httpx.get(
            f"{self.urls['prometheus']}/api/v1/query", params={"query": query, "time": at}, timeout=20
        ).json()
        result = answer.get("data", {}).get("result", [])
        return round(float(result[0]["value"][1])) if result else 0

    def evaluation_interval(self) -> str:
        """Prometheus' own global evaluation_interval, from its loaded config (e.g. "250ms")."""
        import httpx
        import yaml

        answer = httpx.get(f"{self.urls['prometheus']}/api/v1/status/config", timeout=20)
        answer.raise_for_status()
        config = yaml.safe_load(answer.json()["data"]["yaml"])
        return str(config["global"]["evaluation_interval"])


class MissingComponent(RuntimeError):
    """A scenario needs a component the stack does not run."""


def _component_errors() -> tuple[type[BaseException], ...]:
    import httpx
    from sqlalchemy.exc import SQLAlchemyError

    return (httpx.HTTPError, SQLAlchemyError, subprocess.SubprocessError, OSError, KeyError, ValueError)


COMPONENT_ERRORS = _component_errors()


def database_books(database_url: str, plan_stock: dict[str, int]) -> tuple[int, int, int]:
    """(non-synthetic orders, units oversold against the plan's stock, orders charged twice), read from
    the app's database with the app's own table definitions (app/db.py)."""
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.db import order_items, orders, payments
    from app.settings import normalise_database_url

    async def count() -> tuple[int, int, int]:
        engine = create_async_engine(normalise_database_url(database_url))
        try:
            async with engine.connect() as conn:
                stored = (
                    await conn.execute(select(func.count()).select_from(orders).where(~orders.c.synthetic))
                ).scalar_one()
                sold = dict(
                    (
                        await conn.execute(
                            select(order_items.c.sku, func.sum(order_items.c.quantity)).group_by(
                                order_items.c.sku
                            )
                        )
                    ).all()
                )
                held = (
                    select(payments.c.idempotency_key)
                    .where(payments.c.state.in_(("authorized", "attached")))
                    .group_by(payments.c.idempotency_key)
                    .having(func.count() > 1)
                    .subquery()
                )
                twice = (
                    await conn.execute(
                        select(func.count())
                        .select_from(orders)
                        .where(orders.c.idempotency_key.in_(select(held.c.idempotency_key)))
                    )
                ).scalar_one()
        finally:
            await engine.dispose()
        oversold = sum(max(0, int(n) - plan_stock.get(sku, 0)) for sku, n in sold.items())
        return int(stored), oversold, int(twice)

    return asyncio.run(count())


def play(
    rig: Rig,
    context: CampaignContext,
    scenario: Scenario,
    traffic_seconds: int,
    peak_arrivals: float,
    time_scale: float,
    directory: Path,
    database_url: str,
    console: Console,
    carried_over: frozenset[str] = frozenset(),
) -> tuple[ScenarioResult, dict[str, Any]]:
    """One scenario: traffic, its fault on the timeline, the wait for its alerts; judged. `carried_over`:
    the pages the previous scenario sent or left firing (peakops.rehearsal.Observed)."""
    plan = context.plan
    stock = {p.sku: p.stock for p in plan.products}
    before, oversold_before, twice_before = database_books(database_url, stock)
    load_dir = directory / scenario.name
    command = locust_command(
        rig.urls["edge"], context, None, traffic_seconds, load_dir, peak_arrivals=peak_arrivals
    )
    outcome: dict[str, Any] = {}
    start = time.time()

    def traffic() -> None:
        outcome["code"], outcome["summary"] = run_loadtest(
            command, load_dir, traffic_seconds, console, extra=rig.firing_summary, label=scenario.name
        )

    runner = threading.Thread(target=traffic, name=f"load-{scenario.name}")
    runner.start()
    timeline: list[dict[str, Any]] = []
    fault = scenario.fault
    missing = ""
    try:
        if fault is not None:
            _sleep_until(start + fault.start_seconds)
            try:
                did = rig.apply(fault)
            except MissingComponent as exc:
                missing = str(exc)
                did = f"not applied: {exc}"
            timeline.append({"at_s": round(time.time() - start, 2), "event": f"fault: {did}"})
            console.print(f"[bold]{scenario.name}[/bold]: {did}")
            _sleep_until(start + fault.start_seconds + fault.duration_seconds)
            if not missing:
                cleared = rig.clear(fault)
                timeline.append({"at_s": round(time.time() - start, 2), "event": f"cleared: {cleared}"})
                console.print(f"[bold]{scenario.name}[/bold]: {cleared}")
    finally:
        runner.join()
        if fault is not None and not missing:
            rig.clear(fault)  # whatever happened above, the next scenario starts healthy
    traffic_end = time.time()
    summary: dict[str, Any] = outcome.get("summary") or {}

    # Listen for the expected alerts until their bounds (and resolutions) have passed.
    expect = scenario.expect
    window = (fault.start_seconds, fault.start_seconds + fault.duration_seconds) if fault else None
    deadline = traffic_end + SETTLE_SECONDS
    if fault is not None:
        bounds = [fault.start_seconds + b.within_seconds for b in expect.fire]
        if expect.resolve_within_seconds is not None and (expect.fire or expect.may_page):
            bounds.append(fault.start_seconds + fault.duration_seconds + expect.resolve_within_seconds)
        deadline = max([deadline, *(start + b for b in bounds)])
    required = {b.alert for b in expect.fire}
    alerts: list[AlertSeen] = []
    while True:
        alerts = alerts_from_inbox(rig.inbox(), start, time.time())
        seen = {a.name: a for a in alerts}
        # A may_page alert that fired is held to the resolution bound too: wait for it as well.
        names = required | {n for n in expect.may_page if n in seen and seen[n].fired_s is not None}
        done = all(
            n in seen
            and seen[n].fired_s is not None
            and (expect.resolve_within_seconds is None or seen[n].resolved_s is not None)
            for n in names
        )
        if (names and done and time.time() >= traffic_end + SETTLE_SECONDS) or time.time() >= deadline:
            break
        time.sleep(1)
    end = time.time()

    after, oversold, twice = database_books(database_url, stock)
    acknowledged = int(summary.get("checkout", {}).get("order", 0))
    # This scenario's: what the database gained since its start (an earlier scenario's fault is its own).
    books = Accounting(acknowledged, after - before, oversold - oversold_before, twice - twice_before)
    observed = Observed(summary, alerts, books, window, time_scale, carried_over)
    result = judge(scenario, observed)
    if not summary:
        result.lines.insert(0, Line(False, "invalid", "the load test wrote no summary"))
        result.verdict = "invalid"
    if missing:
        result.lines.insert(0, Line(False, "invalid", missing))
        result.verdict = "invalid"
    series = {
        "error_ratio": rig.prometheus_range(
            f'sum(rate({HTTP_REQUESTS}{{code=~"5.."}}[5s])) / sum(rate({HTTP_REQUESTS}[5s]))', start, end
        ),
        "burn_rate": rig.prometheus_range("slo:current_burn_rate:ratio", start, end),
        "instances": rig.prometheus_range('sum(up{job="app"})', start, end),
    }
    # Prometheus' own count of the orders (the app's counter, synthetic orders excluded), end - start.
    orders_counted = rig.prometheus_value(f"sum({ORDERS})", end) - rig.prometheus_value(
        f"sum({ORDERS})", start
    )
    record = {
        "name": scenario.name,
        "description": scenario.description,
        "started_at": start,
        "seconds": round(end - start, 1),
        "traffic_seconds": traffic_seconds,
        "fault": fault.model_dump() if fault else None,
        "fault_window_s": list(window) if window else None,
        "timeline": timeline,
        "expect": expect.model_dump(),
        "verdict": result.verdict,
        "lines": [line.__dict__ for line in result.lines],
        "alerts": [a.__dict__ for a in alerts],
        "accounting": {**books.__dict__, "lost": books.lost, "prometheus_orders": orders_counted},
        "load_test": {
            k: summary.get(k)
            for k in ("verdict", "arrivals", "funnel", "checkout", "cache", "cache_hit_ratio", "definitions")
        },
        "per_second": summary.get("seconds", []),
        # The busiest second as the model planned it (scaled to the rehearsal) and as the generator
        # achieved it: the prediction's check.
        "peak": {
            "planned_per_second": max((r["planned_arrivals"] for r in summary.get("seconds", [])), default=0),
            "started_per_second": max((r["started_arrivals"] for r in summary.get("seconds", [])), default=0),
        },
        "prometheus": series,
        "load_test_report": relative(load_dir / "report.html"),
    }
    return result, record


def measure_capacity(rig: Rig, context: CampaignContext, directory: Path, console: Console) -> dict[str, Any]:
    """The step load on one app instance (straight to it, past the edge and the balancer), the knee,
    each post's predicted peak and the replicas it needs with the plan's headroom (loadtests/capacity.py)."""
    from loadtests.capacity import Limits, Step, knee, post_peaks, replicas_needed, stack_config

    plan = context.plan
    assert plan.rehearsal is not None
    assert plan.rehearsal.capacity is not None
    capacity = plan.rehearsal.capacity
    bars = plan.thresholds.journeys[capacity.journey]
    limits = Limits(bars.p95_ms, bars.max_error_ratio)
    instance = rig.urls["app_instances"][0]
    steps: list[Step] = []
    rows = []
    for rate in capacity.steps:
        console.rule(f"capacity: {rate:g} arrivals/s on one instance ({instance})")
        step_dir = directory / "capacity" / f"{rate:g}"
        command = locust_command(
            instance, context, "soak", capacity.step_seconds, step_dir, baseline_arrivals=rate
        )
        _code, summary = run_loadtest(
            command, step_dir, capacity.step_seconds, console, label=f"capacity {rate:g}/s"
        )
        if not summary:
            rows.append(
                {"planned_per_second": rate, "valid": False, "within_bars": False, "error": "no summary"}
            )
            steps.append(Step(rate, 0.0, 0.0, 0.0, generator_saturated=True))
            break
        seconds = capacity.step_seconds
        journeys = {
            k: v for k, v in summary["verdict"]["journeys"].items() if k != "abusive" and v["requests"]
        }
        requests = sum(j["requests"] for j in journeys.values())
        failures = sum(j["failures"] for j in journeys.values())
        step = Step(
            planned_per_second=summary["arrivals"]["planned"] / seconds,
            started_per_second=summary["arrivals"]["started"] / seconds,
            p95_ms=max((j["p95_ms"] for j in journeys.values()), default=0.0),
            error_ratio=failures / requests if requests else 0.0,
            generator_saturated=summary["verdict"]["outcome"] == "invalid",
        )
        steps.append(step)
        within = step.valid and step.p95_ms <= limits.p95_ms and step.error_ratio <= limits.max_error_ratio
        rows.append({**step.__dict__, "valid": step.valid, "within_bars": within, "requests": requests})
        console.print(
            f"  planned {step.planned_per_second:.1f}/s, started {step.started_per_second:.1f}/s, "
            f"p95 {step.p95_ms:.0f} ms, errors {step.error_ratio:.2%}: "
            f"{'within' if within else 'past'} the bars"
        )
        if not within:
            break  # past the knee (or past what the generator can show): no higher step is needed
    found = knee(steps, limits)
    peaks = post_peaks(plan)
    result: dict[str, Any] = {
        "instance": instance,
        "journey": capacity.journey,
        "limits": limits.__dict__,
        "headroom": capacity.headroom,
        "steps": rows,
        "knee_per_second": found.per_second,
        "knee_reason": found.reason,
        "posts": [
            {
                "influencer": peak.slug,
                "post_time": peak.post_time.isoformat(),
                "peak_at": peak.peak_at.isoformat(),
                "predicted_per_second": round(peak.per_second, 2),
                "replicas": (
                    replicas_needed(peak.per_second, found.per_second, capacity.headroom)
                    if found.per_second
                    else None
                ),
            }
            for peak in peaks
        ],
        "stack_config": (
            stack_config(peaks, found.per_second, capacity.headroom, plan.baseline.visitors_per_second)
            if found.per_second
            else None
        ),
    }
    return result


STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")  # what `pulumi stack init` accepts for a name


def stack_file(stack_name: str, root: Path = REPO_ROOT) -> tuple[Path, str]:
    """`root`/Pulumi.<stack>.yaml and its text, checked as the Pulumi program reads it (infra/config.py),
    before the rehearsal starts. Raises typer.Exit(2) naming the problem: a stack name that is no name,
    a missing, unreadable, non-UTF-8 or invalid YAML file, or a config the program refuses."""
    from infra.config import ConfigError
    from peakops.validation import InputError, read_text

    if not STACK_NAME.match(stack_name) or stack_name in (".", ".."):
        typer.echo(
            f"error: --write-config {stack_name!r}: not a stack name (letters, digits, _ . -)", err=True
        )
        raise typer.Exit(2)
    path = root / f"Pulumi.{stack_name}.yaml"
    if not path.is_file():
        typer.echo(f"error: --write-config {stack_name}: {relative(path)} does not exist", err=True)
        raise typer.Exit(2)
    try:
        text = read_text(path, "stack file")
        check_stack_text(text, relative(path), stack_name)
    except (InputError, ConfigError) as exc:
        typer.echo(f"error: --write-config {stack_name}: {exc}", err=True)
        raise typer.Exit(2) from None
    return path, text


def check_stack_text(text: str, source: str, stack_name: str) -> None:
    """Read a stack file's text as the Pulumi program would (infra/config.py), secrets as placeholders.
    Raises InputError (not a YAML mapping) or ConfigError (a config the program refuses)."""
    from infra.config import from_stack_file
    from peakops.validation import InputError, parse_yaml

    data = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping (config: ...)")
    from_stack_file(data, stack_name, {"adminToken": "unchanged", "databaseUrl": "unchanged"})


def write_stack_config(
    stack_name: str, values: dict[str, int], console: Console, root: Path = REPO_ROOT
) -> None:
    """Set `values` in `root`/Pulumi.<stack>.yaml (other lines and comments kept), after showing the diff
    and checking the result as the Pulumi program would (infra/config.py). Raises typer.Exit(2) on a
    stack file that is missing or invalid (`stack_file`) or a result the program would refuse; the file
    is then untouched."""
    import difflib

    from infra.config import ConfigError
    from peakops.generated import write_atomically
    from peakops.validation import InputError

    path, before = stack_file(stack_name, root)
    after = before
    for key, value in values.items():
        pattern = re.compile(rf"^(\s*){re.escape(key)}:.*$", re.MULTILINE)
        if pattern.search(after):
            after = pattern.sub(rf"\g<1>{key}: {value}", after)
        else:
            after = re.sub(r"^config:\s*$", f"config:\n  {key}: {value}", after, count=1, flags=re.MULTILINE)
    try:
        check_stack_text(after, path.name, stack_name)
    except (InputError, ConfigError) as exc:
        typer.echo(f"error: --write-config {stack_name}: the result would be refused:\n{exc}", err=True)
        raise typer.Exit(2) from None
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), str(path.name), str(path.name)
        )
    )
    console.print(diff or f"{path.name}: already as measured", markup=False, highlight=False)
    if after != before:
        write_atomically(path, after)


def _sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def wait_quiet(rig: Rig, console: Console) -> list[str]:
    """The previous scenario's pages resolved, and stayed so for QUIET_HELD_SECONDS, before the next begins
    (or QUIET_BEFORE_SECONDS passed)."""
    deadline = time.monotonic() + QUIET_BEFORE_SECONDS
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if rig.firing_pages():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= QUIET_HELD_SECONDS:
            return []
        time.sleep(1)
    firing = rig.firing_pages()
    console.print(f"[yellow]still paging before the next scenario: {', '.join(firing)}[/yellow]")
    return firing


def rehearse(
    plan: Annotated[Path | None, typer.Option(help="Campaign plan with a `rehearsal:` section.")] = None,
    scenario: Annotated[
        list[str] | None, typer.Option(help="Play only these scenarios (repeatable); default: all.")
    ] = None,
    time_scale: Annotated[
        float,
        typer.Option(
            help="Compress the SLO rules' windows and `for:` by this factor.", min=1, max=MAX_TIME_SCALE
        ),
    ] = 60,
    report: Annotated[Path | None, typer.Option(help="Write the report here.")] = None,
    keep: Annotated[bool, typer.Option(help="Leave the stack running afterwards.")] = False,
    capacity: Annotated[
        bool, typer.Option(help="Run the plan's capacity step load (rehearsal.capacity), if it has one.")
    ] = True,
    write_config: Annotated[
        str | None,
        typer.Option(help="Write the measured replicas into Pulumi.<STACK>.yaml (the diff shown first)."),
    ] = None,
    database: Annotated[
        StackDatabase | None,
        typer.Option(
            help="The stack's database. Default: postgresql when a chosen scenario restarts the database "
            "(a cluster of the stack's own, as production runs), else sqlite."
        ),
    ] = None,
) -> None:
    """Rehearse the campaign on the local stack: scenarios with faults, alerts, accounting; go or no-go."""
    from cli import rehearse_report

    context = campaign(plan)
    console = Console()
    rehearsal = context.plan.rehearsal
    source = relative(context.plan_path)
    if rehearsal is None:
        typer.echo(f"error: {source}: no `rehearsal:` section (scenarios to play)", err=True)
        raise typer.Exit(2)
    chosen = rehearsal.scenarios
    if scenario:
        unknown = [n for n in scenario if n not in {s.name for s in rehearsal.scenarios}]
        if unknown:
            known = ", ".join(s.name for s in rehearsal.scenarios)
            typer.echo(f"error: {source}: no scenario {', '.join(unknown)} (known: {known})", err=True)
            raise typer.Exit(2)
        chosen = [s for s in rehearsal.scenarios if s.name in scenario]
    if write_config is not None and (not capacity or rehearsal.capacity is None):
        typer.echo(
            f"error: --write-config needs the capacity step load (rehearsal.capacity in {source})", err=True
        )
        raise typer.Exit(2)
    if write_config is not None:
        stack_file(write_config)
    restarts_database = any(s.fault is not None and s.fault.kind == "database_restart" for s in chosen)
    engine = database.value if database else ("postgresql" if restarts_database else "sqlite")
    problems = unknown_alerts(context, chosen) + unsupported(context, chosen, engine)
    if problems:
        for problem in problems:
            typer.echo(f"error: {source}: {problem}", err=True)
        raise typer.Exit(2)
    seeded = stack.resolved_var("peakops_campaign_plan")
    if context.plan.catalog_seed() != campaign(REPO_ROOT / seeded).plan.catalog_seed():
        typer.echo(
            f"error: {source}: its products or influencers differ from {seeded}, which the local stack is "
            "seeded from (peakops_campaign_plan in ansible/inventories/local)",
            err=True,
        )
        raise typer.Exit(2)
    # The stack's rules are generated compressed (ansible/inventories/local reads this variable).
    os.environ["PEAKOPS_SLO_TIME_SCALE"] = f"{time_scale:g}"
    started = time.time()
    results: list[ScenarioResult] = []
    records: list[dict[str, Any]] = []
    capacity_result: dict[str, Any] | None = None
    failure = ""
    evaluation = "unknown"
    with tempfile.TemporaryDirectory(prefix="peakops-rehearse-") as tmp:
        directory = report or Path(tmp) / "report"
        directory.mkdir(parents=True, exist_ok=True)
        log = directory / "ansible.log"
        console.print(
            "[bold]Bringing the local stack up[/bold] (ansible-playbook ansible/playbooks/site.yml)"
        )
        extra = ["-e", f"peakops_database={engine}"]
        if not stack.preflight(extra):
            raise typer.Exit(3)
        if stack.run_playbook("site.yml", *extra, log=log) != 0:
            console.print(log.read_text()[-4000:], markup=False)
            console.print("[red]the stack did not come up[/red]")
            raise typer.Exit(3)
        try:
            urls = stack.endpoints(stack.inventory_vars())
            if not wait_for(lambda: all(stack.probes(urls).values()), 30):
                silent = [name for name, ok in stack.probes(urls).items() if not ok]
                console.print(f"[red]the stack came up, but these do not answer: {', '.join(silent)}[/red]")
                raise typer.Exit(3)
            stack_dir = Path(stack.resolved_var("peakops_stack_dir"))
            rig = Rig(urls, stack_dir, engine)
            evaluation = rig.evaluation_interval()
            database_url = app_database_url(Path(stack.resolved_var("campaign_app_data_dir")) / "app.env")
            carried_over: frozenset[str] = frozenset()
            for index, item in enumerate(chosen):
                if index:
                    paged = {
                        a["name"] for a in records[-1]["alerts"] if a["page"] and a["fired_s"] is not None
                    }
                    carried_over = frozenset(paged | set(wait_quiet(rig, console)))
                console.rule(f"scenario {index + 1}/{len(chosen)}: {item.name}")
                result, record = play(
                    rig,
                    context,
                    item,
                    rehearsal.traffic_seconds,
                    rehearsal.peak_arrivals,
                    time_scale,
                    directory,
                    database_url,
                    console,
                    carried_over,
                )
                results.append(result)
                records.append(record)
                for line in result.lines:
                    mark = "[green]ok[/green]" if line.ok else "[red]!![/red]"
                    console.print(f"  {mark} {line.text}", highlight=False)
                console.print(f"  {item.name}: [bold]{result.verdict}[/bold]")
            if capacity and rehearsal.capacity is not None:
                capacity_result = measure_capacity(rig, context, directory, console)
        except COMPONENT_ERRORS as exc:
            # A component stopped answering (or answered nonsense) mid-rehearsal: the evidence is
            # incomplete, so the rehearsal is invalid; say which call failed, never a traceback.
            failure = f"{type(exc).__name__}: {exc}"
            console.print(
                f"[red]error: a component failed during the rehearsal: {failure}[/red]", markup=True
            )
        finally:
            if keep:
                console.print("the stack keeps running: `peakops status`, `peakops down`")
            else:
                stack.run_playbook("down.yml", log=log)
        verdict = "invalid" if failure else overall(results)
        if capacity_result is not None and capacity_result["knee_per_second"] is None and verdict == "go":
            first = capacity_result["steps"][0] if capacity_result["steps"] else {"valid": False}
            # The generator's failure is no evidence about the shop: invalid; the shop's is a no-go.
            verdict = "no-go" if first.get("valid") else "invalid"
        summary = {
            "plan": source,
            "campaign": context.plan.name,
            "verdict": verdict,
            "exit_code": EXIT_CODES[verdict],
            "database": engine,
            "time_scale": time_scale,
            "evaluation_interval": evaluation,
            "time_scale_note": (
                f"rule windows and `for:` compressed {time_scale:g}x, and Prometheus evaluated every "
                f"{evaluation} (production: {production_evaluation_interval()}): an alert measured after t s "
                "would take about "
                f"{time_scale:g}*t s at real time"
            ),
            "traffic_seconds": rehearsal.traffic_seconds,
            "peak_arrivals": rehearsal.peak_arrivals,
            "elapsed_seconds": round(time.time() - started, 1),
            "scenarios": records,
            "capacity": capacity_result,
            "error": failure or None,
            "definitions": {
                "capacity.steps": "each step a constant arrival rate (visitors/s, each a whole journey) on "
                "one app instance; p95 the worst journey's; errors over every request but the abusive "
                "clients'",
                "capacity.knee_per_second": "the last step within the bars before the first past them",
                "capacity.posts": "the plan's predicted arrivals/s at each post's peak (every post, the "
                "baseline, the abusive share) and the replicas for it at the headroom",
            },
        }
        paths = rehearse_report.write(directory, summary)
        if capacity_result is not None:
            console.print(
                f"capacity: knee {capacity_result['knee_per_second']} arrivals/s per instance "
                f"({capacity_result['knee_reason']}); stack config {capacity_result['stack_config']}"
            )
        if write_config is not None and capacity_result is not None and capacity_result["stack_config"]:
            write_stack_config(write_config, capacity_result["stack_config"], console)
        console.print(f"[bold]Rehearsal: {verdict.upper()}[/bold] (exit {EXIT_CODES[verdict]})")
        if report is not None:
            for path in paths:
                console.print(f"report: {path}")
    raise typer.Exit(EXIT_CODES[verdict])


def app_database_url(env_file: Path) -> str:
    """The database the stack's app instances use, from the environment file the role wrote for them:
    PEAKOPS_DATABASE_URL, or the SQLite file in PEAKOPS_DATA_DIR (the app's own default)."""
    import shlex

    values = {}
    for line in env_file.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, raw = line.partition("=")
            words = shlex.split(raw)
            values[key.strip()] = words[0] if words else ""
    if values.get("PEAKOPS_DATABASE_URL"):
        return values["PEAKOPS_DATABASE_URL"]
    return f"sqlite:///{values.get('PEAKOPS_DATA_DIR', env_file.parent)}/peakops.db"


def production_evaluation_interval() -> str:
    """What production's Prometheus evaluates at: role monitoring's default, which the example inventory
    keeps (the local stack compresses it with the time scale: ansible/inventories/local)."""
    import yaml

    defaults = yaml.safe_load((ANSIBLE_DIR / "roles" / "monitoring" / "defaults" / "main.yml").read_text())
    return str(defaults["monitoring_evaluation_interval"])


def wait_for(check: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `check` every 0.5 s until it holds (True) or `timeout_s` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def unknown_alerts(context: CampaignContext, scenarios: list[Scenario]) -> list[str]:
    """Alert names the scenarios expect or forbid that no generated rule defines, each with its place."""
    import yaml

    from monitors.generate import Settings, render

    defined: set[str] = set()
    for name, text in render(context, Settings()).items():
        if name.endswith(".yml") and "/rules/" in f"/{name}":
            for group in (yaml.safe_load(text) or {}).get("groups", []):
                defined |= {r["alert"] for r in group.get("rules", []) if "alert" in r}
    plan = context.plan
    assert plan.rehearsal is not None
    problems = []
    for scenario in scenarios:
        index = plan.rehearsal.scenarios.index(scenario)
        where = f"rehearsal.scenarios[{index}] ({scenario.name}).expect"
        for j, bound in enumerate(scenario.expect.fire):
            if bound.alert not in defined:
                problems.append(
                    f"{where}.fire[{j}].alert: {bound.alert!r} is not an alert of the generated rules"
                )
        for field in ("may_page", "quiet"):
            for j, name in enumerate(getattr(scenario.expect, field)):
                if name not in defined:
                    problems.append(f"{where}.{field}[{j}]: {name!r} is not an alert of the generated rules")
    return problems


def unsupported(context: CampaignContext, scenarios: list[Scenario], database: str) -> list[str]:
    """What the local stack on `database` cannot play, and `may_burn` names no bar has, each with its
    place."""
    plan = context.plan
    assert plan.rehearsal is not None
    problems = []
    for scenario in scenarios:
        index = plan.rehearsal.scenarios.index(scenario)
        where = f"rehearsal.scenarios[{index}] ({scenario.name})"
        if scenario.fault is not None and scenario.fault.kind == "database_restart" and database == "sqlite":
            problems.append(
                f"{where}.fault.kind: database_restart needs a database server, not --database sqlite"
            )
    return problems + unknown_bars(context, scenarios)


def unknown_bars(context: CampaignContext, scenarios: list[Scenario]) -> list[str]:
    """`may_burn` names that are no load-test bar (a journey of the plan's thresholds, or `checkout`),
    each with its place."""
    plan = context.plan
    assert plan.rehearsal is not None
    bars = {*plan.thresholds.journeys, "checkout"}
    problems = []
    for scenario in scenarios:
        index = plan.rehearsal.scenarios.index(scenario)
        where = f"rehearsal.scenarios[{index}] ({scenario.name})"
        for j, name in enumerate(scenario.expect.may_burn):
            if name not in bars:
                problems.append(
                    f"{where}.expect.may_burn[{j}]: {name!r} is not a bar (known: {sorted(bars)})"
                )
    return problems


def dump(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=1, default=str)
