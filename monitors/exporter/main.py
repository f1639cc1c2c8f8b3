"""`peakops-exporter`: the SLI exporter's process. Prometheus-style flags, env overrides, a config file.

    peakops-exporter --edge.access-log=/var/log/peakops/edge/access.json \\
        --synthetic.target-url=http://127.0.0.1:8080 --campaign.plan=campaigns/demo.yaml

Precedence: flags, then ``PEAKOPS_EXPORTER_*`` environment variables, then ``--config.file`` (YAML with
the same names as the settings below), then defaults. A bad value stops start-up with exit 2, naming it.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.registry import Collector
from pydantic import ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from monitors.exporter.edge import EdgeCollector, EdgeStats
from monitors.exporter.health import CampaignCollector, Health, HealthCollector
from monitors.exporter.logtail import LogTail
from monitors.exporter.synthetic import SyntheticCollector, SyntheticJourney, SyntheticStats
from peakops.plan import PlanError, load_plan

DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


def seconds(value: Any) -> Any:
    """ "30s", "1m", "500ms" or a number of seconds."""
    if isinstance(value, str) and (match := DURATION.match(value)):
        return float(match[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match[2]]
    return value


class ExporterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEAKOPS_EXPORTER_", extra="forbid")

    listen_address: str = "127.0.0.1:9108"
    access_log: Path | None = None
    from_start: bool = False
    poll_interval_seconds: float = 0.25
    target_url: str | None = None  # synthetic journeys are off without it
    synthetic_interval_seconds: float = 30.0
    synthetic_timeout_seconds: float = 5.0
    synthetic_sku: str = "SYNTHETIC-PROBE"
    landing_path: str = "/"
    campaign_plan: Path | None = None

    @field_validator(
        "poll_interval_seconds", "synthetic_interval_seconds", "synthetic_timeout_seconds", mode="before"
    )
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return seconds(value)

    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen_address.rpartition(":")
        return host or "0.0.0.0", int(port)


# flag -> setting; each flag may also be given as PEAKOPS_EXPORTER_<SETTING>.
FLAGS = {
    "--web.listen-address": "listen_address",
    "--edge.access-log": "access_log",
    "--edge.poll-interval": "poll_interval_seconds",
    "--synthetic.target-url": "target_url",
    "--synthetic.interval": "synthetic_interval_seconds",
    "--synthetic.timeout": "synthetic_timeout_seconds",
    "--synthetic.sku": "synthetic_sku",
    "--synthetic.landing-path": "landing_path",
    "--campaign.plan": "campaign_plan",
}


def load_settings(flags: dict[str, Any], config_file: Path | None) -> ExporterSettings:
    class WithFile(ExporterSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources = [init_settings, env_settings]
            if config_file is not None:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
            return tuple(sources)

    if config_file is not None and not config_file.is_file():
        raise ValueError(f"--config.file: {config_file} does not exist")
    return WithFile(**{k: v for k, v in flags.items() if v is not None})


def parse_args(argv: list[str]) -> tuple[dict[str, Any], Path | None]:
    parser = argparse.ArgumentParser(prog="peakops-exporter", description=__doc__.split("\n")[0])
    parser.add_argument("--config.file", dest="config_file", type=Path, help="YAML settings file.")
    for flag, setting in FLAGS.items():
        parser.add_argument(flag, dest=setting, help=f"(env PEAKOPS_EXPORTER_{setting.upper()})")
    parser.add_argument(
        "--edge.from-start",
        dest="from_start",
        action="store_true",
        default=None,
        help="Read the access log from its start, not from its end.",
    )
    namespace = vars(parser.parse_args(argv))
    config_file = namespace.pop("config_file")
    return namespace, config_file


def describe(exc: ValidationError, config_file: Path | None) -> str:
    lines = []
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"])
        flag = next((f for f, s in FLAGS.items() if s == name), None)
        where = f"{name} ({flag} / PEAKOPS_EXPORTER_{name.upper()}"
        where += f" / {config_file})" if config_file else ")"
        lines.append(f"peakops-exporter: {where}: {err['msg']}")
    return "\n".join(lines)


class Exporter:
    """Wires the collectors to one registry and runs the tail and synthetic loops until stopped."""

    def __init__(self, settings: ExporterSettings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.stop = threading.Event()
        self.health = Health()
        self.stats = EdgeStats()
        self.tail = LogTail(settings.access_log, settings.from_start) if settings.access_log else None
        self.synthetic_stats = SyntheticStats()
        timed: list[Collector] = [EdgeCollector(self.stats, self.tail)]
        if settings.target_url:
            # Only when journeys run: zeros from a prober that is off would read as SyntheticJourneysStalled.
            timed.append(SyntheticCollector(self.synthetic_stats))
        if settings.campaign_plan is not None:
            timed.append(CampaignCollector(load_plan(settings.campaign_plan)))
        self.registry.register(HealthCollector(self.health, timed, ("log", "synthetic")))
        self.journey = (
            SyntheticJourney(
                settings.target_url,
                settings.landing_path,
                settings.synthetic_sku,
                settings.synthetic_timeout_seconds,
                self.synthetic_stats,
            )
            if settings.target_url
            else None
        )
        self.threads: list[threading.Thread] = []

    def tail_once(self) -> None:
        assert self.tail is not None
        try:
            self.stats.ingest(self.tail.poll())
        except OSError:
            self.health.error("log")
        else:
            self.health.success("log")

    def _tail_loop(self) -> None:
        while not self.stop.is_set():
            self.tail_once()
            self.stop.wait(self.settings.poll_interval_seconds)

    def _synthetic_loop(self) -> None:
        assert self.journey is not None
        while not self.stop.is_set():
            if self.journey.run_once():
                self.health.success("synthetic")
            else:
                self.health.error("synthetic")
            self.stop.wait(self.settings.synthetic_interval_seconds)

    def start(self) -> None:
        loops = []
        if self.tail is not None:
            loops.append(self._tail_loop)
        if self.journey is not None:
            loops.append(self._synthetic_loop)
        for loop in loops:
            thread = threading.Thread(target=loop, name=loop.__name__, daemon=True)
            thread.start()
            self.threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        if self.tail is not None:
            self.tail.close()


def main(argv: list[str] | None = None) -> int:
    flags, config_file = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings(flags, config_file)
        exporter = Exporter(settings)
    except ValidationError as exc:
        print(describe(exc, config_file), file=sys.stderr)
        return 2
    except (ValueError, PlanError) as exc:
        print(f"peakops-exporter: {exc}", file=sys.stderr)
        return 2
    host, port = settings.host_port()
    server, _ = start_http_server(port, host, registry=exporter.registry)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        exporter.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exporter.start()
    print(f"peakops-exporter: listening on {host}:{port}", file=sys.stderr, flush=True)
    exporter.stop.wait()
    exporter.close()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
