"""End-to-end detection time of a 100% checkout outage, with the production rules and real windows.

The theory (FIELD-NOTES): with a full hour of steady history, a 99.9% SLO's 14.4x page over 1 h needs
0.001 x 14.4 x 3600 s = 51.8 s of full outage; real detection adds the scrape interval, the evaluation
interval and Alertmanager's group_wait. A fresh Prometheus has no hour of history, so this benchmark
backfills three hours of healthy checkouts at the live rate (`promtool tsdb create-blocks-from
openmetrics`; three hours, so the 6x/6h page cannot fire first on a short history), then runs the real
app, Prometheus, Alertmanager and the inbox with the generated rules (time scale 1), drives checkouts at
the same rate, makes every payment fail, and times fault -> page in the inbox.

    .venv/bin/python benchmarks/alert_detection.py [--rate 10] [--interval 5]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
from jinja2 import Template

from cli.demo import Rehearsal, checkout_stream, pages
from monitors.alertmanager import PAGERDUTY_KEY_FILE, SLACK_API_URL_FILE, Receivers
from monitors.generate import Settings, render
from monitors.inbox import Store, serving
from peakops.context import resolve
from peakops.paths import REPO_ROOT
from tests.support.procs import free_port, run_app, run_service

ADMIN_TOKEN = secrets.token_hex(16)  # this run only
CATALOG = REPO_ROOT / "app" / "seed" / "demo-catalog.yaml"
PROMETHEUS_TEMPLATE = REPO_ROOT / "ansible" / "roles" / "monitoring" / "templates" / "prometheus.yml.j2"
HISTORY_S = 3 * 3600


def backfill(path: Path, tsdb: Path, instance: str, rate: float, step: int, end: float) -> None:
    """Three hours of healthy checkouts for the app's series, ending at `end`."""
    start = end - HISTORY_S
    lines = ["# TYPE peakops_checkouts counter"]
    labels = f'instance="{instance}",job="app",outcome="success"'
    for i in range(HISTORY_S // step + 1):
        lines.append(f"peakops_checkouts_total{{{labels}}} {i * step * rate:.0f} {start + i * step:.3f}")
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(path), str(tsdb)],
        check=True,
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=10.0, help="checkouts per second, history and live")
    parser.add_argument("--interval", type=int, default=5, help="scrape and evaluation interval, seconds")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds of live healthy traffic")
    args = parser.parse_args()
    interval = args.interval
    campaign = resolve()
    rehearsal = Rehearsal.of(campaign)  # what the checkout stream buys and which page it waits for
    scratch = Path(tempfile.mkdtemp(prefix="peakops-detect-"))
    try:
        inbox_port, am_port, prom_port = free_port(), free_port(), free_port()
        settings = Settings(
            receivers=Receivers(
                webhook_url=f"http://127.0.0.1:{inbox_port}/alerts",
                pagerduty_url=f"http://127.0.0.1:{inbox_port}/pagerduty",
                group_wait=f"{interval}s",
                group_interval=f"{interval}s",
            )
        )
        files = render(campaign, settings)
        (scratch / "prometheus" / "rules").mkdir(parents=True)
        for name, text in files.items():
            if name.startswith("rules/"):
                (scratch / "prometheus" / name).write_text(text)
        am_dir = scratch / "alertmanager"
        (am_dir / "secrets").mkdir(parents=True)
        (am_dir / "alertmanager.yml").write_text(files["alertmanager.yml"])
        (am_dir / SLACK_API_URL_FILE).write_text(f"http://127.0.0.1:{inbox_port}/slack")
        (am_dir / PAGERDUTY_KEY_FILE).write_text("bench")
        store = Store(scratch / "inbox.jsonl")
        env = {
            "PEAKOPS_DATABASE_URL": f"sqlite+aiosqlite:///{scratch / 'shop.db'}",
            "PEAKOPS_DATA_DIR": str(scratch / "app"),
            "PEAKOPS_CATALOG": str(CATALOG),
            "PEAKOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        }
        with run_app(env, scratch / "app.log") as app:
            instance = f"127.0.0.1:{app.port}"
            backfill(scratch / "history.om", scratch / "tsdb", instance, args.rate, interval, time.time() - 1)
            config = Template(PROMETHEUS_TEMPLATE.read_text()).render(
                monitoring_scrape_interval=f"{interval}s",
                monitoring_evaluation_interval=f"{interval}s",
                monitoring_dir=str(scratch),
                monitoring_bind_address="127.0.0.1",
                monitoring_alertmanager_port=am_port,
                monitoring_scrape_targets={"app": [instance]},
            )
            (scratch / "prometheus" / "prometheus.yml").write_text(config)
            prometheus = [
                "prometheus",
                f"--config.file={scratch / 'prometheus' / 'prometheus.yml'}",
                f"--storage.tsdb.path={scratch / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                f"--rules.alert.resend-delay={interval}s",
            ]
            alertmanager = [
                "prometheus-alertmanager",
                f"--config.file={am_dir / 'alertmanager.yml'}",
                f"--storage.path={scratch / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ]
            stop = threading.Event()
            codes: list[int] = []
            with (
                serving("127.0.0.1", inbox_port, store),
                run_service(
                    alertmanager, scratch / "am.log", f"http://127.0.0.1:{am_port}/-/ready", cwd=am_dir
                ),
                run_service(prometheus, scratch / "prom.log", f"http://127.0.0.1:{prom_port}/-/ready"),
            ):
                traffic = threading.Thread(
                    target=lambda: codes.extend(
                        checkout_stream(app.url, rehearsal.sku, stop, args.rate, 600)
                    ),
                    daemon=True,
                )
                traffic.start()
                time.sleep(args.warmup)
                ratio = httpx.get(
                    f"http://127.0.0.1:{prom_port}/api/v1/query",
                    params={"query": 'slo:sli_error:ratio_rate1h{sloth_slo="checkout-success"}'},
                    timeout=5,
                ).json()["data"]["result"]
                fault_at = time.time()
                rule = httpx.post(
                    f"{app.url}/api/admin/faults",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    json={"payment_failure_ratio": 1.0, "ttl_seconds": 600},
                    timeout=5,
                )
                rule.raise_for_status()
                inbox = f"http://127.0.0.1:{inbox_port}"
                detected = None
                while time.time() - fault_at < 240 and detected is None:
                    paged = pages(inbox, rehearsal.alert, "firing", fault_at)
                    detected = paged[0]["received_at"] if paged else None
                    time.sleep(0.2)
                stop.set()
                traffic.join(timeout=30)
        theory = 14.4 * 0.001 * 3600
        print(
            f"history: {HISTORY_S // 3600} h backfilled at {args.rate:g} checkouts/s; "
            f"live: {len(codes)} checkouts"
        )
        print(f"1h error ratio before the fault: {ratio[0]['value'][1] if ratio else 'none'}")
        print(f"scrape = evaluation = group_wait = {interval} s")
        if detected is None:
            print("no page within 240 s")
            return
        took = detected - fault_at
        bound = theory + 3 * interval
        print(f"theory: {theory:.1f} s of full outage; + scrape, evaluation, group_wait: <= {bound:.1f} s")
        print(f"measured fault -> page in the inbox: {took:.1f} s ({took / theory:.2f}x the theory alone)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
