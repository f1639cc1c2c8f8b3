"""Rules that watch the hosts and the watchers themselves, next to the SLO burn alerts.

    rules/watcher.yml     the SLI exporter and the scrapes: measuring must not stop silently
    rules/saturation.yml  per host (prometheus-node-exporter) and per HAProxy (its Prometheus endpoint)

Burn alerts say that users are hurt; these say why a host is about to hurt them, or that the
measurement itself is blind. Each is a ticket (chat) unless the service is down or about to be, which
pages; each links a runbook. Windows and ``for:`` follow `Options.time_scale` like the SLO rules, never
below `MIN_RANGE` for a range, so a rehearsal sees them within seconds.

Sources of the thresholds and windows:
- hosts: the node-mixin's alerts and defaults (prometheus/node_exporter, docs/node-mixin/alerts/
  alerts.libsonnet and config.libsonnet: CPU usage 90% and load per core 2 for 15m, memory 90% for 15m,
  filesystem predicted full in 24h (ticket) or 4h (page) below 15%/10% free, file descriptors 70%/90%);
- HAProxy: its configuration manual (maxconn, "queue"): a request waits in the backend's queue when every
  server is at its maxconn, and a frontend past its maxconn stops accepting connections; so a queue that
  keeps growing, or sessions near the limit, is saturation before errors;
- the watcher: the exporter's own metrics (peakops/metrics.py), as the issue that asked for them lists.
"""

from __future__ import annotations

from typing import Any

from monitors.rules import Options, format_duration, scaled
from peakops import metrics
from peakops.slo import parse_duration

WATCHER_FILE = "watcher.yml"
SATURATION_FILE = "saturation.yml"
MONITORING_RUNBOOK = "docs/runbooks/monitoring.md"
SATURATION_RUNBOOK = "docs/runbooks/saturation.md"
MIN_RANGE = 10.0  # seconds: a rate over fewer samples than this is noise, even in a rehearsal

# Third-party metric names (prometheus-node-exporter 1.5, HAProxy 2.6's prometheus-exporter service).
NODE_CPU = "node_cpu_seconds_total"
NODE_LOAD1 = "node_load1"
NODE_MEMORY_AVAILABLE = "node_memory_MemAvailable_bytes"
NODE_MEMORY_TOTAL = "node_memory_MemTotal_bytes"
NODE_FS_AVAIL = "node_filesystem_avail_bytes"
NODE_FS_SIZE = "node_filesystem_size_bytes"
NODE_FS_READONLY = "node_filesystem_readonly"
NODE_FILEFD_ALLOCATED = "node_filefd_allocated"
NODE_FILEFD_MAXIMUM = "node_filefd_maximum"
HAPROXY_SERVER_STATUS = "haproxy_server_status"
HAPROXY_BACKEND_STATUS = "haproxy_backend_status"
HAPROXY_BACKEND_QUEUE = "haproxy_backend_current_queue"
HAPROXY_FRONTEND_SESSIONS = "haproxy_frontend_current_sessions"
HAPROXY_FRONTEND_LIMIT = "haproxy_frontend_limit_sessions"
HAPROXY_PROCESS_CONNECTIONS = "haproxy_process_current_connections"
HAPROXY_PROCESS_LIMIT = "haproxy_process_max_connections"
# Real filesystems only: not tmpfs, overlays or the container runtime's mounts.
FS_SELECTOR = (
    'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.*", mountpoint!~"/run.*|/var/lib/containers/.*"'
)


def _range(window: str, options: Options) -> str:
    seconds = parse_duration(window).total_seconds() / options.time_scale
    return window if options.time_scale == 1 else format_duration(max(MIN_RANGE, round(seconds)))


def _alert(
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    runbook: str,
    options: Options,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_ != "0s":
        rule["for"] = scaled(for_, options)
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {"summary": summary, "description": description, "runbook_url": runbook}
    return rule


def watcher_rules(options: Options) -> list[dict[str, Any]]:
    """The exporter and the scrapes: a blind SLI cannot burn, so blindness is alerted on its own."""
    window = _range("10m", options)
    journeys, lines, errors = metrics.SYNTHETIC_JOURNEYS, metrics.EDGE_LOG_LINES, metrics.EXPORTER_ERRORS
    return [
        _alert(
            "ExporterLogTailStalled",
            # The synthetic journeys cross the edge, so the edge served them: its log must have grown.
            f'(sum by (instance) (increase({journeys}{{result="success"}}[{window}])) > 0)\n'
            f"unless on(instance) (sum by (instance) (increase({lines}[{window}])) > 0)\n"
            f'or sum by (instance) (increase({errors}{{component="log"}}[{window}])) > 0',
            "5m",
            "ticket",
            "The SLI exporter reads no access log while the edge serves",
            "{{ $labels.instance }}: synthetic journeys crossed the edge, but no access log line was read "
            "(or reading failed) over the last 10m: the edge SLIs are blind.",
            MONITORING_RUNBOOK,
            options,
        ),
        _alert(
            "SyntheticJourneysStalled",
            f"sum by (instance) (increase({journeys}[{window}])) == 0",
            "5m",
            "ticket",
            "Synthetic journeys stopped",
            "{{ $labels.instance }} ran no synthetic journey, successful or not, over the last 10m: the "
            "quiet-hour heartbeat of the SLIs is gone.",
            MONITORING_RUNBOOK,
            options,
        ),
        _alert(
            "ScrapeTargetDown",
            "up == 0",
            "2m",
            "ticket",
            "Prometheus cannot scrape a target",
            "{{ $labels.job }} at {{ $labels.instance }} has not answered Prometheus' scrapes for 2m: its "
            "metrics, and every SLI and alert built on them, are missing.",
            MONITORING_RUNBOOK,
            options,
        ),
    ]


def saturation_rules(options: Options) -> list[dict[str, Any]]:
    cpu, load = _range("2m", options), NODE_LOAD1
    fs = f"{{{FS_SELECTOR}}}"
    predict = _range("6h", options)
    day, four_hours = (parse_duration(w).total_seconds() / options.time_scale for w in ("1d", "4h"))
    fd = f"{NODE_FILEFD_ALLOCATED} * 100 / {NODE_FILEFD_MAXIMUM}"

    def filling(free: int, horizon: float) -> str:
        return (
            f"(\n  {NODE_FS_AVAIL}{fs} / {NODE_FS_SIZE}{fs} * 100 < {free}\nand\n"
            f"  predict_linear({NODE_FS_AVAIL}{fs}[{predict}], {horizon:g}) < 0\nand\n"
            f"  {NODE_FS_READONLY}{fs} == 0\n)"
        )

    return [
        _alert(
            "NodeCPUHighUsage",
            f'sum without(mode) (avg without (cpu) (rate({NODE_CPU}{{mode!~"idle|iowait"}}[{cpu}])))'
            "\n* 100 > 90",
            "15m",
            "ticket",
            "High CPU usage",
            "CPU usage at {{ $labels.instance }} has been above 90% for 15m, now "
            '{{ printf "%.2f" $value }}%.',
            SATURATION_RUNBOOK,
            options,
        ),
        _alert(
            "NodeSystemSaturation",
            f'{load}\n/ count without (cpu, mode) ({NODE_CPU}{{mode="idle"}}) > 2',
            "15m",
            "ticket",
            "System saturated, load per core is very high",
            "Load per core at {{ $labels.instance }} has been above 2 for 15m, now "
            '{{ printf "%.2f" $value }}: work is queueing for the CPUs.',
            SATURATION_RUNBOOK,
            options,
        ),
        _alert(
            "NodeMemoryHighUtilization",
            f"100 - ({NODE_MEMORY_AVAILABLE} / {NODE_MEMORY_TOTAL} * 100) > 90",
            "15m",
            "ticket",
            "Host is running out of memory",
            "Memory use at {{ $labels.instance }} has been above 90% for 15m, now "
            '{{ printf "%.2f" $value }}%: the OOM killer is next.',
            SATURATION_RUNBOOK,
            options,
        ),
        _alert(
            "NodeFilesystemSpaceFillingUp",
            filling(15, day),
            "1h",
            "ticket",
            "Filesystem is predicted to run out of space within 24 hours",
            "{{ $labels.mountpoint }} at {{ $labels.instance }} has "
            '{{ printf "%.2f" $value }}% space left and is filling up.',
            SATURATION_RUNBOOK,
            options,
        ),
        _alert(
            "NodeFilesystemSpaceFillingUp",
            filling(10, four_hours),
            "1h",
            "page",
            "Filesystem is predicted to run out of space within 4 hours",
            "{{ $labels.mountpoint }} at {{ $labels.instance }} has "
            '{{ printf "%.2f" $value }}% space left and is filling up fast.',
            SATURATION_RUNBOOK,
            options,
        ),
        _alert(
            "NodeFileDescriptorLimit",
            f"{fd} > 70",
            "15m",
            "ticket",
            "The kernel is running out of file descriptors",
            'File descriptors at {{ $labels.instance }} are at {{ printf "%.2f" $value }}% of the limit.',
            SATURATION_RUNBOOK,
            options,
        ),
        _alert(
            "NodeFileDescriptorLimit",
            f"{fd} > 90",
            "15m",
            "page",
            "The kernel is about to run out of file descriptors",
            'File descriptors at {{ $labels.instance }} are at {{ printf "%.2f" $value }}% of the limit: '
            "new connections will fail.",
            SATURATION_RUNBOOK,
            options,
        ),
        _alert(
            "HAProxyServerDown",
            f'{HAPROXY_SERVER_STATUS}{{state="DOWN"}} == 1',
            "1m",
            "ticket",
            "An HAProxy server is down",
            "{{ $labels.server }} of backend {{ $labels.proxy }} at {{ $labels.instance }} fails its health "
            "checks: the others carry its share.",
            SATURATION_RUNBOOK,
            options,
        ),
        _alert(
            "HAProxyBackendDown",
            f'{HAPROXY_BACKEND_STATUS}{{state="UP"}} == 0',
            "1m",
            "page",
            "An HAProxy backend has no server left",
            "Backend {{ $labels.proxy }} at {{ $labels.instance }} has no usable server, backups included: "
            "every request to it fails.",
            SATURATION_RUNBOOK,
            options,
        ),
        _alert(
            "HAProxyBackendQueueGrowing",
            f"{HAPROXY_BACKEND_QUEUE} > 0\nand\nderiv({HAPROXY_BACKEND_QUEUE}[{_range('2m', options)}]) > 0",
            "2m",
            "ticket",
            "Requests queue in an HAProxy backend, and the queue grows",
            "{{ $value }} requests wait in backend {{ $labels.proxy }} at {{ $labels.instance }}: every "
            "server is at its maxconn and the queue keeps growing.",
            SATURATION_RUNBOOK,
            options,
        ),
        _alert(
            "HAProxySessionLimitNear",
            f"{HAPROXY_FRONTEND_SESSIONS} / ({HAPROXY_FRONTEND_LIMIT} > 0) > 0.8\n"
            f"or\n{HAPROXY_PROCESS_CONNECTIONS} / ({HAPROXY_PROCESS_LIMIT} > 0) > 0.8",
            "2m",
            "ticket",
            "HAProxy is near its connection limit",
            "{{ $labels.instance }} {{ $labels.proxy }} uses {{ $value | humanizePercentage }} of its "
            "maxconn: past it, new connections wait in the kernel's backlog or are refused.",
            SATURATION_RUNBOOK,
            options,
        ),
    ]


def rule_files(options: Options) -> dict[str, list[dict[str, Any]]]:
    return {
        WATCHER_FILE: [{"name": "peakops-watcher", "rules": watcher_rules(options)}],
        SATURATION_FILE: [{"name": "peakops-saturation", "rules": saturation_rules(options)}],
    }
