"""The edge against the ceilings it should approach, measured side by side in one run.

1. A cached landing page through the edge (nginx proxy_cache HIT) vs nginx serving a static file of the
   same size: target >= 0.6x.
2. An uncached API path through edge -> HAProxy -> app vs the same path on one app instance directly.

The local stack is brought up with Ansible (`peakops up`, in a scratch state directory) and down after.
Every server process is pinned to CPU 0 and wrk (-t1 -c64) to CPU 1; figures are requests/s, and ratios
within this run are what travel.

    .venv/bin/python benchmarks/edge_throughput.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import psutil
from jinja2 import Template

from benchmarks.app_throughput import wrk
from peakops.paths import REPO_ROOT
from tests.support.procs import free_port, wait_http_ok

SERVER_CPU = 0
BIN = Path(sys.executable).parent
STATIC_CONF = Template("""
worker_processes 1;
daemon off;
pid {{ dir }}/nginx.pid;
error_log {{ dir }}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path {{ dir }}/body;
  proxy_temp_path {{ dir }}/proxy;
  fastcgi_temp_path {{ dir }}/fastcgi;
  uwsgi_temp_path {{ dir }}/uwsgi;
  scgi_temp_path {{ dir }}/scgi;
  keepalive_requests 1000000;
  sendfile on;
  server { listen 127.0.0.1:{{ port }}; root {{ dir }}/www; default_type text/html; }
}
""")


def pin(pid: int) -> None:
    process = psutil.Process(pid)
    for each in [process, *process.children(recursive=True)]:
        each.cpu_affinity([SERVER_CPU])


def supervisor_pid(stack: Path, name: str) -> int:
    out = subprocess.run(
        ["/usr/bin/supervisorctl", "-c", str(stack / "supervisor" / "supervisord.conf"), "pid", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return int(out)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="peakops-edgebench-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)
        stack = base / "stack"
        env = {**os.environ, "PEAKOPS_STACK_DIR": str(stack)}
        # wrk runs from 127.0.0.1, which the local stack exempts from the per-client rate limits.
        up = subprocess.run(
            [str(BIN / "peakops"), "up"], env=env, cwd=REPO_ROOT, capture_output=True, text=True
        )
        if up.returncode != 0:
            print(up.stdout[-3000:], file=sys.stderr)
            return 1
        static = None
        try:
            for name in (
                "edge",
                "haproxy",
                "campaign-app-8101",
                "campaign-app-8102",
                "campaign-app-8103",
                "campaign-app-8109",
            ):
                pin(supervisor_pid(stack, name))
            page = httpx.get("http://127.0.0.1:8080/c/lena-glow", timeout=10).content
            (base / "www").mkdir()
            (base / "www" / "page.html").write_bytes(page)
            port = free_port()
            (base / "static.conf").write_text(STATIC_CONF.render(dir=base, port=port))
            static = subprocess.Popen(
                [
                    "taskset",
                    "-c",
                    str(SERVER_CPU),
                    "/usr/sbin/nginx",
                    "-c",
                    str(base / "static.conf"),
                    "-p",
                    str(base),
                ]
            )
            wait_http_ok(f"http://127.0.0.1:{port}/page.html", 10, static)
            print(
                f"servers on CPU {SERVER_CPU}, wrk -t1 -c64 on CPU 1, {args.seconds}s each; "
                f"landing page {len(page)} bytes"
            )
            rows = [
                ("nginx static file (same size)", f"http://127.0.0.1:{port}/page.html"),
                ("edge, cached landing page (HIT)", "http://127.0.0.1:8080/c/lena-glow?utm_source=bench"),
                ("app directly, /api/products/{sku}", "http://127.0.0.1:8101/api/products/GLOW-SERUM"),
                ("edge -> LB -> app, /api/products/{sku}", "http://127.0.0.1:8080/api/products/GLOW-SERUM"),
            ]
            results = {}
            for label, url in rows:
                wrk(url, 2)
                result = wrk(url, args.seconds)
                results[label] = result.requests_per_s
                print(
                    f"  {label:<40} {result.requests_per_s:>10,.0f} req/s   p99 {result.p99_ms:7.2f} ms   "
                    f"non-2xx {result.non_2xx}"
                )
            statuses: dict[str, int] = {}
            for line in (stack / "edge" / "logs" / "access.json").read_text().splitlines():
                code = line.split('"status":', 1)[1].split(",", 1)[0]
                statuses[code] = statuses.get(code, 0) + 1
            print(f"  edge access log status codes: {statuses}")
        finally:
            if static is not None:
                static.terminate()
                static.wait(10)
            subprocess.run([str(BIN / "peakops"), "down"], env=env, cwd=REPO_ROOT, capture_output=True)
    labels = [label for label, _ in rows]
    print(
        f"\ncached landing through the edge / static file: {results[labels[1]] / results[labels[0]]:.2f}x "
        "(target >= 0.60x)"
    )
    print(f"uncached path through edge and LB / app directly: {results[labels[3]] / results[labels[2]]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
