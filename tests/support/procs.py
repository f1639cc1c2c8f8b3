"""Starting and stopping local server processes for the tests and the benchmarks: app instances, a throwaway
PostgreSQL, any HTTP service. Every process started here is stopped by the context manager that started it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peakops.paths import REPO_ROOT


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_http_ok(
    url: str,
    timeout_s: float,
    process: subprocess.Popen[Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            # A loopback URL we built (S310).
            with urllib.request.urlopen(url, timeout=1, context=ssl_context) as response:  # noqa: S310
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
    command = [sys.executable, "-m", "cli", "app", "serve", "--host", host, "--port", str(port)]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    with run_service(command, log_path, f"http://{host}:{port}/readyz", env, ready_timeout_s) as app:
        yield app


@contextlib.contextmanager
def run_service(
    command: list[str],
    log_path: Path,
    ready_url: str,
    env: Mapping[str, str] | None = None,
    ready_timeout_s: float = 30,
    cwd: Path = REPO_ROOT,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[AppProcess]:
    """Start an HTTP server (app, exporter, Prometheus, Alertmanager, inbox, the e2e control plane), wait
    for `ready_url` (over HTTPS with `ssl_context`), stop it (SIGTERM, then SIGKILL) after."""
    parsed = urllib.parse.urlsplit(ready_url)
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    service = AppProcess(process, parsed.hostname or "127.0.0.1", parsed.port or 80, log_path)
    try:
        try:
            wait_http_ok(ready_url, ready_timeout_s, process, ssl_context)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(
                f"{' '.join(command)} did not start: {exc}\n--- log ---\n{service.log()}"
            ) from None
        yield service
    finally:
        service.terminate()


PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    data_dir: Path
    options: str
    log_path: Path
    run_as: tuple[str, ...] = ()

    def pg_ctl(self, *args: str) -> None:
        """pg_ctl on this cluster (`stop -m fast`, `start`), waiting for it; raises CalledProcessError."""
        subprocess.run(
            [*self.run_as, str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", *args],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected, as when the server restarts under the app."""
        self.pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        self.pg_ctl("-o", self.options, "-l", str(self.log_path), "start")

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-XAtq",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def create_database(self) -> str:
        import uuid

        name = f"peakops_{uuid.uuid4().hex[:12]}"
        self.psql(f"CREATE DATABASE {name}")
        return name


@contextlib.contextmanager
def run_postgres(max_connections: int = 300) -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster (Debian's binaries) on a free loopback port, in a temp dir.

    As root it runs as Debian's `postgres` account: PostgreSQL refuses to run as root.
    """
    import pwd
    import shutil
    import tempfile

    if not (PG_BIN / "pg_ctl").exists():
        raise RuntimeError("PostgreSQL binaries missing: run `make bootstrap` (Debian package postgresql)")
    base = Path(tempfile.mkdtemp(prefix="peakops-pg-"))
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        for path in (base, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    try:
        subprocess.run(
            [
                *prefix,
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        port = free_port()
        # fsync off: these clusters are disposable, and the tests measure the app, not the disk.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
            f"-c max_connections={max_connections} -c fsync=off -c shared_buffers=128MB"
        )
        server = PostgresServer(
            "127.0.0.1", port, "postgres", data, options, base / "postgres.log", tuple(prefix)
        )
        try:
            server.start()  # inside: a start that timed out may have left a postmaster running
            yield server
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
