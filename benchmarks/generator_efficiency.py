"""Load generator efficiency: requests/s per core of the peakops journeys vs a plain FastHttpUser
fetching a static file, both against the same nginx, measured side by side in one run.

nginx runs on CPU 0 as a "null origin" (every route the journeys use answers a fixed body), Locust runs
one process on CPU 1. Requests/s per core = requests / CPU seconds the Locust process used, so a
generator that is not saturated is not flattered. Target: journeys >= 0.8x the plain user.

    .venv/bin/python benchmarks/generator_efficiency.py [--seconds 15]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from jinja2 import Template

from peakops.paths import DEFAULT_PLAN, REPO_ROOT
from peakops.plan import load_plan
from tests.support.procs import free_port, wait_http_ok

NGINX = "/usr/sbin/nginx"
SERVER_CPU, LOAD_CPU = "0", "1"
WARMUP_S = 4
LANDING = (
    '<html><head><link rel="stylesheet" href="/static/app.css"></head>'
    '<body><script src="/static/app.js"></script></body></html>'
)


def run_locust(args: list[str], csv_prefix: Path, seconds: int) -> tuple[int, float]:
    """Run Locust on LOAD_CPU; return (requests, CPU seconds) over its steady state.

    Only the middle of the run counts (from WARMUP_S to one second before the end): start-up imports
    and the report written at exit are not the generator's per-request cost.
    """
    process = subprocess.Popen(
        [
            "taskset",
            "-c",
            LOAD_CPU,
            sys.executable,
            "-m",
            "locust",
            *args,
            "--headless",
            "--only-summary",
            "--csv",
            str(csv_prefix),
            "--csv-full-history",
            "--loglevel",
            "ERROR",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    watched = psutil.Process(process.pid)
    time.sleep(WARMUP_S)
    first_wall, first_cpu = time.time(), sum(watched.cpu_times()[:2])
    time.sleep(seconds - WARMUP_S - 1)
    last_wall, last_cpu = time.time(), sum(watched.cpu_times()[:2])
    process.wait(timeout=120)
    with open(f"{csv_prefix}_stats_history.csv") as handle:
        history = [
            (float(r["Timestamp"]), int(r["Total Request Count"]))
            for r in csv.DictReader(handle)
            if r["Name"] == "Aggregated"
        ]

    def count_at(moment: float) -> int:
        return max((n for stamp, n in history if stamp <= moment), default=0)

    return count_at(last_wall) - count_at(first_wall), last_cpu - first_cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="peakops-genbench-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # as root, nginx's workers run as www-data and must read the files
        (base / "www").mkdir()
        (base / "www" / "static.txt").write_text("hello, world\n")
        port = free_port()
        config = Template((REPO_ROOT / "benchmarks" / "null_origin.conf.j2").read_text()).render(
            dir=base, port=port, page=LANDING
        )
        (base / "nginx.conf").write_text(config)
        nginx = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, NGINX, "-c", str(base / "nginx.conf"), "-p", tmp]
        )
        try:
            host = f"http://127.0.0.1:{port}"
            wait_http_ok(f"{host}/static.txt", 10, nginx)
            print(f"nginx null origin on CPU {SERVER_CPU}, Locust (1 process) on CPU {LOAD_CPU}, ", end="")
            print(f"{args.seconds}s each")
            # Same concurrency as the plain run (50), no think time and no emulated mobile latency: what
            # is compared is the generator's CPU per request, not how many sockets it holds open.
            plan = load_plan(DEFAULT_PLAN)
            plan = plan.model_copy(update={"mix": plan.mix.model_copy(update={"slow_mobile_share": 0})})
            (base / "plan.yaml").write_text(plan.to_yaml())
            plain_args = [
                "-f",
                "benchmarks/plain_locustfile.py",
                "--host",
                host,
                "-u",
                "50",
                "-r",
                "50",
                "-t",
                f"{args.seconds}s",
            ]
            journey_args = [
                "-f", "loadtests/locustfile.py", "--host", host, "--plan", str(base / "plan.yaml"),
                "--test-seconds", str(args.seconds), "--peak-arrivals", "3000", "--think-scale", "0",
                "--max-slots", "50", "--report-dir", str(base / "journeys"),
            ]  # fmt: skip
            ratios = []
            # Alternate the two, several rounds: the machine is noisy, the median ratio is what travels.
            for round_ in range(1, args.rounds + 1):
                plain_requests, plain_cpu = run_locust(plain_args, base / f"plain{round_}", args.seconds)
                journey_requests, journey_cpu = run_locust(
                    journey_args, base / f"journeys{round_}", args.seconds
                )
                plain, journeys = plain_requests / plain_cpu, journey_requests / journey_cpu
                ratios.append(journeys / plain)
                print(
                    f"  round {round_}: plain {plain:>7,.0f} req/CPU-s ({plain_requests:,} requests), "
                    f"journeys {journeys:>7,.0f} req/CPU-s ({journey_requests:,} requests): "
                    f"{journeys / plain:.2f}x"
                )
        finally:
            nginx.terminate()
            nginx.wait(10)
    print(
        f"\nratio journeys / plain, median of {len(ratios)}: {statistics.median(ratios):.2f}x "
        "(target >= 0.80x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
