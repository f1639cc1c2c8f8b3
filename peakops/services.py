"""Service facts: name, port, image, probes, resources. One place; the manifest builders (infra/) and
the docs read them, so a port or a probe path changes here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Probe:
    path: str
    period_seconds: int = 5
    timeout_seconds: int = 2
    failure_threshold: int = 3


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    image: str  # repository; the tag comes from the stack config, never "latest"
    readiness: Probe
    liveness: Probe
    resources: Resources
    metrics_path: str = "/metrics"
    command: tuple[str, ...] = ()
    extra_ports: dict[str, int] = field(default_factory=dict)


APP = Service(
    name="campaign-app",
    port=8000,
    image="ghcr.io/peakops/campaign-app",
    readiness=Probe("/readyz", period_seconds=2, failure_threshold=2),
    liveness=Probe("/healthz", period_seconds=10, failure_threshold=3),
    resources=Resources("500m", "256Mi", "1", "512Mi"),
    command=("peakops", "app", "serve", "--host", "0.0.0.0", "--port", "8000"),
)

EDGE = Service(
    name="edge",
    port=8080,
    image="ghcr.io/peakops/edge",  # Dockerfile.edge: Debian's nginx with the cache purge module
    readiness=Probe("/edge/healthz", period_seconds=2),
    liveness=Probe("/edge/healthz", period_seconds=10),
    resources=Resources("250m", "128Mi", "1", "256Mi"),
)

EXPORTER = Service(
    name="sli-exporter",
    port=9108,
    image=APP.image,  # the app's image carries monitors/ and its entry point
    readiness=Probe("/metrics", period_seconds=10),
    liveness=Probe("/metrics", period_seconds=20),
    resources=Resources("100m", "64Mi", "500m", "128Mi"),
    command=("peakops-exporter",),
)

# Shutdown: readiness turns false, the load balancer stops sending, then in-flight requests finish.
APP_DRAIN_SECONDS = 5
APP_TERMINATION_GRACE_SECONDS = 40
