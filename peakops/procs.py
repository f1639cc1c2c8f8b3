"""Starting and stopping local server processes: the app instances used by the demo, the tests and the
benchmarks. Every process started here is stopped by the context manager that started it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_http_ok(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL we built
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f}s: {last_error}")


@dataclass
class AppProcess:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout_s: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextlib.contextmanager
def run_app(
    env: Mapping[str, str],
    log_path: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    ready_timeout_s: float = 30,
    cpu: int | None = None,
) -> Iterator[AppProcess]:
    """Start `peakops app serve` with the given PEAKOPS_* environment and wait until /readyz is 200."""
    port = port or free_port(host)
    command = [sys.executable, "-m", "peakops", "app", "serve", "--host", host, "--port", str(port)]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    app = AppProcess(process, host, port, log_path)
    try:
        try:
            wait_http_ok(f"{app.url}/readyz", ready_timeout_s, process)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"app did not start: {exc}\n--- log ---\n{app.log()}") from None
        yield app
    finally:
        app.terminate()
