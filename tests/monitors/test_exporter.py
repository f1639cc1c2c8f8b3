"""The SLI exporter: log parsing on a fresh registry, tailing through rotation and truncation, settings,
and the real process running synthetic journeys against a real app."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from monitors import facts
from monitors.exporter.edge import EdgeCollector, EdgeStats
from monitors.exporter.logtail import LogTail
from monitors.exporter.main import Exporter, ExporterSettings, load_settings
from peakops import edgelog, metrics
from peakops.paths import GENERATED_DIR
from tests.app.helpers import metric_value
from tests.conftest import StartApp
from tests.support.procs import free_port, run_service


def line(
    route: str = "/c/{slug}",
    method: str = "GET",
    status: int = 200,
    seconds: float = 0.004,
    cache: str = "HIT",
) -> bytes:
    """A line as the edge writes it: the fields of peakops/edgelog.py, in its order."""
    values = {
        "time": "2026-12-03T19:00:01+01:00",
        "remote_addr": "127.0.0.1",
        "method": method,
        "route": route,
        "status": status,
        "request_time": seconds,
        "upstream_time": "-",
        "cache": cache,
        "bytes": 5120,
    }
    assert list(values) == [f.name for f in edgelog.FIELDS]
    return json.dumps(values, separators=(",", ":")).encode()


def registry_with(stats: EdgeStats, tail: LogTail | None = None) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(EdgeCollector(stats, tail))
    return registry


def test_counts_and_histograms_by_journey() -> None:
    stats = EdgeStats()
    stats.ingest(
        [
            line("/c/{slug}", seconds=0.004),
            line("/", seconds=0.2, cache="MISS"),
            line("/api/checkout", "POST", 201, 0.8, cache=""),
            line("/api/checkout", "POST", 503, 1.2, cache=""),
            line("/api/checkout", "POST", 409, 0.05, cache=""),
        ]
    )
    registry = registry_with(stats)
    get = registry.get_sample_value
    assert (
        get("peakops_edge_requests_total", {"journey": "landing", "code_class": "2xx", "cache": "HIT"}) == 1
    )
    assert (
        get("peakops_edge_requests_total", {"journey": "landing", "code_class": "2xx", "cache": "MISS"}) == 1
    )
    assert (
        get("peakops_edge_requests_total", {"journey": "checkout", "code_class": "5xx", "cache": "PASS"}) == 1
    )
    assert (
        get("peakops_edge_requests_total", {"journey": "checkout", "code_class": "4xx", "cache": "PASS"}) == 1
    )
    duration = "peakops_edge_request_duration_seconds"
    assert get(f"{duration}_bucket", {"journey": "landing", "le": "0.005"}) == 1
    assert get(f"{duration}_bucket", {"journey": "landing", "le": "0.3"}) == 2
    assert get(f"{duration}_bucket", {"journey": "checkout", "le": "1.0"}) == 2
    assert get(f"{duration}_bucket", {"journey": "checkout", "le": "+Inf"}) == 3
    assert get(f"{duration}_count", {"journey": "checkout"}) == 3
    assert get(f"{duration}_sum", {"journey": "checkout"}) == pytest.approx(2.05)
    assert get("peakops_edge_log_lines_total", {"result": "parsed"}) == 5


def test_garbage_lines_are_counted_never_fatal() -> None:
    stats = EdgeStats()
    garbage = [
        b"not json at all",
        b"[1, 2, 3]",
        b'"a string"',
        b"{}",
        b'{"route": "/", "method": "GET", "status": "200", "request_time": 0.1}',  # status as a string
        b'{"route": "/", "method": "GET", "status": 999, "request_time": 0.1}',
        b'{"route": "/", "method": "GET", "status": 200, "request_time": -1}',
        b'{"route": "/", "method": "GET", "status": 200, "request_time": "fast"}',
        b"\xff\xfe\x00binary",
        b'{"route": "/", "method": "GET", "status": 200, "request_time": 0.1',  # cut short
    ]
    stats.ingest([*garbage, line()])
    get = registry_with(stats).get_sample_value
    assert get("peakops_edge_log_lines_total", {"result": "malformed"}) == len(garbage)
    assert get("peakops_edge_log_lines_total", {"result": "parsed"}) == 1


def test_labels_stay_bounded_whatever_clients_send() -> None:
    stats = EdgeStats()
    stats.ingest(
        line(f"/made-up/{i}", method=f"M{i}", status=200 + i % 300, cache=f"C{i}") for i in range(5000)
    )
    families = list(registry_with(stats).collect())
    requests = next(f for f in families if f.name == "peakops_edge_requests")
    assert {s.labels["journey"] for s in requests.samples} == {"other"}
    assert {s.labels["cache"] for s in requests.samples} == {"PASS"}
    assert len(requests.samples) <= 3 * 2  # 2xx, 3xx, 4xx; _total and _created per series at most


def write(path: Path, *lines: bytes, mode: str = "ab") -> None:
    with path.open(mode) as handle:
        for item in lines:
            handle.write(item + b"\n")


def test_tail_follows_appends_and_waits_for_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    write(log, line("/"))
    tail = LogTail(log)  # what the file holds now is skipped, like tail -F
    write(log, line("/c/{slug}"))
    with log.open("ab") as handle:
        handle.write(line("/api/products")[:20])  # half a line
    assert [json.loads(item)["route"] for item in tail.poll()] == ["/c/{slug}"]
    with log.open("ab") as handle:
        handle.write(line("/api/products")[20:] + b"\n")
    assert [json.loads(item)["route"] for item in tail.poll()] == ["/api/products"]


def test_a_log_that_appears_after_the_start_is_read_from_its_first_byte(tmp_path: Path) -> None:
    """A sidecar starts before nginx writes its first line into the shared emptyDir: nothing is lost."""
    log = tmp_path / "access.json"
    tail = LogTail(log)
    assert tail.poll() == []  # no file yet
    write(log, line("/"), line("/c/{slug}"))
    assert [json.loads(item)["route"] for item in tail.poll()] == ["/", "/c/{slug}"]


def test_a_log_replaced_before_the_first_poll_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    write(log, line("/"))
    tail = LogTail(log)
    log.rename(tmp_path / "access.json.1")
    write(log, line("/api/checkout", "POST"))  # a new file: none of it existed at the start
    assert [json.loads(item)["route"] for item in tail.poll()] == ["/api/checkout"]


def test_tail_survives_rotation_without_losing_lines(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    write(log, line("/"))
    tail = LogTail(log, from_start=True)
    assert len(tail.poll()) == 1
    with log.open("ab") as still_open:  # nginx keeps writing the old file until it reopens its logs
        log.rename(tmp_path / "access.json.1")
        still_open.write(line("/c/{slug}") + b"\n")
    write(log, line("/api/checkout", "POST"), mode="wb")
    routes = [json.loads(item)["route"] for item in tail.poll()]
    assert routes == ["/c/{slug}", "/api/checkout"]
    assert tail.rotations == 1
    write(log, line("/"))
    assert len(tail.poll()) == 1


def test_tail_survives_truncation(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    write(log, line("/"), line("/"), line("/"))
    tail = LogTail(log, from_start=True)
    assert len(tail.poll()) == 3
    os.truncate(log, 0)  # copytruncate
    write(log, line("/api/checkout", "POST"))
    assert [json.loads(item)["route"] for item in tail.poll()] == ["/api/checkout"]
    assert tail.truncations == 1


def test_exporter_reads_a_rotated_log_into_its_registry(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    write(log, line("/"))
    registry = CollectorRegistry()
    exporter = Exporter(ExporterSettings(access_log=log, from_start=True), registry)
    exporter.tail_once()
    log.rename(tmp_path / "access.json.1")
    write(log, b"garbage", line("/", status=502))
    exporter.tail_once()
    get = registry.get_sample_value
    assert (
        get("peakops_edge_requests_total", {"journey": "landing", "code_class": "2xx", "cache": "HIT"}) == 1
    )
    assert (
        get("peakops_edge_requests_total", {"journey": "landing", "code_class": "5xx", "cache": "HIT"}) == 1
    )
    assert get("peakops_edge_log_lines_total", {"result": "malformed"}) == 1
    assert get("peakops_edge_log_reopens_total", {"reason": "rotated"}) == 1
    assert get("peakops_exporter_errors_total", {"component": "log"}) == 0
    assert get("peakops_exporter_last_success_timestamp_seconds", {"component": "log"}) is not None
    assert get("peakops_exporter_scrape_duration_seconds") is not None


def test_settings_precedence_flags_then_env_then_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "exporter.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "listen_address": "127.0.0.1:1",
                "synthetic_interval_seconds": "1m",
                "landing_path": "/c/from-file",
            }
        )
    )
    monkeypatch.setenv("PEAKOPS_EXPORTER_LISTEN_ADDRESS", "127.0.0.1:2")
    settings = load_settings({"landing_path": None}, config)
    assert settings.listen_address == "127.0.0.1:2"  # env beats the file
    assert settings.synthetic_interval_seconds == 60
    assert settings.landing_path == "/c/from-file"
    settings = load_settings({"listen_address": "127.0.0.1:3"}, config)
    assert settings.listen_address == "127.0.0.1:3"  # a flag beats both


def run_exporter(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitors.exporter", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_bad_settings_exit_2_naming_the_setting(tmp_path: Path) -> None:
    result = run_exporter("--synthetic.interval", "soon")
    assert result.returncode == 2
    assert (
        "synthetic_interval_seconds (--synthetic.interval / PEAKOPS_EXPORTER_SYNTHETIC_INTERVAL_SECONDS)"
        in result.stderr
    )
    config = tmp_path / "exporter.yml"
    config.write_text("listen_adress: 127.0.0.1:9\n")
    result = run_exporter("--config.file", str(config))
    assert result.returncode == 2
    assert "listen_adress" in result.stderr
    assert str(config) in result.stderr
    result = run_exporter("--campaign.plan", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "missing.yaml" in result.stderr


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(url, timeout=5).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_exporter_process_runs_synthetic_journeys_kept_out_of_business_figures(
    start_app: StartApp, tmp_path: Path
) -> None:
    app = start_app(f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}")
    port = free_port()
    log = tmp_path / "access.json"
    write(log, line("/"))
    command = [
        sys.executable,
        "-m",
        "monitors.exporter",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--edge.access-log={log}",
        "--edge.poll-interval=100ms",
        f"--synthetic.target-url={app.url}",
        "--synthetic.interval=200ms",
        "--synthetic.sku=SYNTHETIC-PROBE",
        "--campaign.plan=campaigns/demo.yaml",
    ]
    url = f"http://127.0.0.1:{port}/metrics"
    with run_service(command, tmp_path / "exporter.log", url) as exporter:
        write(log, line("/api/checkout", "POST", 201, cache=""))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            samples = scrape(url)
            runs = samples.get(
                ("peakops_synthetic_journeys_total", frozenset({("result", "success"), ("failed_step", "")})),
                0,
            )
            parsed = samples.get(("peakops_edge_log_lines_total", frozenset({("result", "parsed")})), 0)
            if runs >= 3 and parsed >= 1:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"no synthetic journeys or log lines in time\n{exporter.log()}")
        assert (
            "peakops_campaign_start_timestamp_seconds",
            frozenset({("campaign", "spring-glow-drop")}),
        ) in samples
        # The names come from peakops/metrics.py: exactly those are exposed, and every exporter metric
        # the generated rules select on is among them.
        exposed = {name for name, _ in samples}
        assert exposed == metrics.series_names(metrics.EXPORTER)
        rules = "".join(p.read_text() for p in (GENERATED_DIR / "rules").glob("*.yml"))
        selected = {name for name in re.findall(r"\bpeakops_[a-z_]+", rules) if name in facts.known_metrics()}
        from_exporter = selected - metrics.series_names(metrics.APP)
        assert from_exporter, "the rules select on no exporter metric: the check below would be empty"
        assert from_exporter <= exposed
        assert exporter.terminate() == 0
    with httpx.Client(base_url=app.url) as client:
        assert metric_value(client, "peakops_checkouts_total", outcome="success") >= 3
        assert metric_value(client, "peakops_orders_total", currency="EUR") == 0  # synthetic: not business


@contextlib.contextmanager
def nonsense_edge(cart_body: bytes) -> Iterator[str]:
    """An edge whose landing page works and whose cart API answers 200 with `cart_body`."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(b"<html>landing</html>", "text/html")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer(cart_body, "application/json")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("body", [b"[]", b"not json", b'{"cart_id": 5}', b"{}", b"null"])
def test_an_unexpected_answer_is_a_counted_failure_and_the_prober_goes_on(body: bytes) -> None:
    with nonsense_edge(body) as url:
        registry = CollectorRegistry()
        settings = ExporterSettings(target_url=url, synthetic_interval_seconds=0.05)
        exporter = Exporter(settings, registry)
        exporter.start()
        try:
            failed = {"result": "failure", "failed_step": "cart"}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if (registry.get_sample_value("peakops_synthetic_journeys_total", failed) or 0) >= 3:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("fewer than 3 failed journeys counted: the prober stopped")
            assert all(thread.is_alive() for thread in exporter.threads)
            errors = registry.get_sample_value("peakops_exporter_errors_total", {"component": "synthetic"})
            assert errors is not None
            assert errors >= 3
            assert "unexpected answer" in exporter.synthetic_stats.last_error
        finally:
            exporter.close()
