"""App throughput against a bare ASGI hello world, measured side by side in one run.

Each server runs alone on CPU 0 (`taskset`), wrk runs on CPU 1; PostgreSQL, when used, floats. Figures
are requests/s as wrk reports them, and each as a ratio to the bare hello measured in the same run:
the machine is shared and noisy, so only the ratios travel.

    make bench                       # or: .venv/bin/python benchmarks/app_throughput.py --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from peakops.paths import REPO_ROOT
from tests.support.procs import free_port, run_app, run_postgres, wait_http_ok

SERVER_CPU = 0
LOAD_CPU = 1
CONNECTIONS = 64
BENCH_CATALOG = REPO_ROOT / "app" / "seed" / "demo-catalog.yaml"
CHECKOUT_CARTS = 60_000


@dataclass
class Result:
    name: str
    requests_per_s: float
    non_2xx: int
    p99_ms: float
    ratio: float = 0.0


def wrk(url: str, seconds: int, script: Path | None = None, script_args: list[str] | None = None) -> Result:
    command = ["taskset", "-c", str(LOAD_CPU), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = 0.0
    if p99:
        p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return Result(url, rps, int(non_2xx_match.group(1)) if non_2xx_match else 0, p99_ms)


@contextmanager
def baseline_server(target: str) -> Iterator[str]:
    port = free_port()
    command = [
        "taskset",
        "-c",
        str(SERVER_CPU),
        sys.executable,
        "-m",
        "uvicorn",
        f"benchmarks.hello_asgi:{target}",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        "--backlog",
        "4096",
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT)
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/", 30, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def measure(name: str, url: str, seconds: int, **kwargs: object) -> Result:
    wrk(url, 2)  # warm-up: JIT-free Python still has caches, pools and snapshots to fill
    result = wrk(url, seconds, **kwargs)  # type: ignore[arg-type]
    result.name = name
    print(
        f"  {name:<34} {result.requests_per_s:>10,.0f} req/s   p99 {result.p99_ms:7.2f} ms"
        f"   non-2xx {result.non_2xx}",
        flush=True,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration of each measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if os.cpu_count() and os.cpu_count() < 2:  # type: ignore[operator]
        print("needs 2 CPUs: one for the server, one for wrk", file=sys.stderr)
        return 2

    results: list[Result] = []
    print(f"server on CPU {SERVER_CPU}, wrk -t1 -c{CONNECTIONS} on CPU {LOAD_CPU}, {args.seconds}s each")
    with baseline_server("raw") as url:
        results.append(measure("bare ASGI hello (baseline)", f"{url}/", args.seconds))
    with baseline_server("starlette") as url:
        results.append(measure("bare Starlette hello", f"{url}/", args.seconds))

    with tempfile.TemporaryDirectory(prefix="peakops-bench-") as tmp, run_postgres() as pg:
        database = pg.create_database()
        env = {
            "PEAKOPS_DATABASE_URL": pg.url(database),
            "PEAKOPS_DATA_DIR": tmp,
            "PEAKOPS_CATALOG": str(BENCH_CATALOG),
        }
        with run_app(env, Path(tmp) / "app.log", cpu=SERVER_CPU) as app:
            results.append(measure("GET /c/{slug} (landing)", f"{app.url}/c/lena-glow", args.seconds))
            results.append(measure("GET /api/products", f"{app.url}/api/products", args.seconds))
            # Carts made in SQL: making 60k through the API would benchmark cart creation instead.
            pg.psql(
                "UPDATE products SET stock = 100000000 WHERE sku = 'GLOW-SERUM';"
                f"INSERT INTO carts (id, checked_out) SELECT gen_random_uuid()::text, false "
                f"FROM generate_series(1, {CHECKOUT_CARTS});"
                "INSERT INTO cart_items (cart_id, sku, quantity) SELECT id, 'GLOW-SERUM', 1 FROM carts "
                "WHERE NOT checked_out;",
                database,
            )
            cart_file = Path(tmp) / "carts.txt"
            cart_file.write_text(pg.psql("SELECT id FROM carts WHERE NOT checked_out", database) + "\n")
            before = int(pg.psql("SELECT count(*) FROM orders", database))
            start = time.monotonic()
            checkout = measure(
                "POST /api/checkout on PostgreSQL",
                app.url,
                args.seconds,
                script=REPO_ROOT / "benchmarks" / "checkout.lua",
                script_args=[str(cart_file)],
            )
            elapsed = time.monotonic() - start - 2  # minus the warm-up
            created = int(pg.psql("SELECT count(*) FROM orders", database)) - before
            print(f"  orders created (counted in PostgreSQL): {created} in ~{elapsed + 2:.0f}s of load")
            results.append(checkout)

    baseline = results[0].requests_per_s
    print("\nratio to the bare ASGI hello (same run):")
    for result in results:
        result.ratio = result.requests_per_s / baseline
        print(f"  {result.name:<34} {result.ratio:5.2f}x")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
