"""Every stack setting, read once, checked once: a frozen `StackConfig` or a `ConfigError` at start.

The Pulumi program reads the keys with `pulumi.Config("peakops")`; the renderer of `k8s/` reads the same
keys from `Pulumi.<stack>.yaml`. Both go through `parse`, so `pulumi up` and `kubectl apply -k` deploy
the same thing. Keys (all under `peakops:`):

    namespace              Kubernetes namespace                                   peakops
    imageTag               the app image's tag (never "latest")                   required
    appReplicasMin/Max     HPA bounds for the app                                 2 / 20
    appCpuTarget           HPA target CPU utilisation, percent                    60
    appRpsTarget           HPA target requests per second per pod                 200
    appRpsMetric           auto | true | false: scale the app on requests per     auto
                           second too (needs a custom metrics adapter, e.g.
                           prometheus-adapter: while any HPA metric is missing,
                           Kubernetes never scales down); auto asks the cluster
                           whether custom.metrics.k8s.io is served
    edgeReplicasMin/Max    HPA bounds for the edge                                2 / 10
    campaignPlan           campaign plan the pre-scaling reads (repo-relative)    campaigns/demo.yaml
    prescaleReplicas       HPA minimum while a post's spike lands                 10
    prescaleLeadMinutes    raise it this long before each post                    10
    prescaleHoldMinutes    lower it this long after each post                     60
    databaseUrl            secret: PostgreSQL URL (required unless inClusterPostgres)
    adminToken             secret: the app's admin API token                       required
    inClusterPostgres      run a PostgreSQL for dev instead of an external URL    false
    ingressClass           ingress class of the Ingress                           nginx
    host                   public host name                                       shop.example.com
    cloud                  none | aws | gcp | azure (load balancer annotations)    none
    prometheusOperator     auto | true | false: ServiceMonitor + PrometheusRule   auto
                           (else ConfigMaps); auto asks the cluster for the CRDs
    loadGenerator          in-cluster Locust master and workers                   false
    loadGeneratorWorkers   Locust workers                                         2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from peakops.paths import DEFAULT_PLAN, relative

SECRET_KEYS = ("databaseUrl", "adminToken")


class ConfigError(ValueError):
    """The stack config is invalid; the message names the stack and the key."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    namespace: str = Field(default="peakops", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    imageTag: str = Field(min_length=1)
    appReplicasMin: int = Field(default=2, ge=1)
    appReplicasMax: int = Field(default=20, ge=1)
    appCpuTarget: int = Field(default=60, ge=10, le=95)
    appRpsTarget: int = Field(default=200, ge=1)
    appRpsMetric: Literal["auto", "true", "false"] | bool = "auto"
    edgeReplicasMin: int = Field(default=2, ge=1)
    edgeReplicasMax: int = Field(default=10, ge=1)
    campaignPlan: str = relative(DEFAULT_PLAN)
    prescaleReplicas: int = Field(default=10, ge=1)
    prescaleLeadMinutes: int = Field(default=10, ge=1, le=120)
    prescaleHoldMinutes: int = Field(default=60, ge=5, le=24 * 60)
    databaseUrl: str | None = None
    adminToken: str | None = None
    inClusterPostgres: bool = False
    ingressClass: str = "nginx"
    host: str = "shop.example.com"
    cloud: Literal["none", "aws", "gcp", "azure"] = "none"
    prometheusOperator: Literal["auto", "true", "false"] | bool = "auto"
    loadGenerator: bool = False
    loadGeneratorWorkers: int = Field(default=2, ge=1, le=100)

    @field_validator("imageTag")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if value == "latest":
            raise ValueError("'latest' is not a version: pin the image tag (a release or a commit)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> _Config:
        for part in ("app", "edge"):
            low, high = getattr(self, f"{part}ReplicasMin"), getattr(self, f"{part}ReplicasMax")
            if low >= high:
                raise ValueError(f"{part}ReplicasMin ({low}) must be below {part}ReplicasMax ({high})")
        if not self.appReplicasMin <= self.prescaleReplicas <= self.appReplicasMax:
            raise ValueError(
                f"prescaleReplicas ({self.prescaleReplicas}) must be within appReplicasMin..appReplicasMax "
                f"({self.appReplicasMin}..{self.appReplicasMax})"
            )
        if not self.adminToken:
            raise ValueError("adminToken: missing secret (pulumi config set --secret peakops:adminToken ...)")
        if not self.inClusterPostgres and not self.databaseUrl:
            raise ValueError(
                "databaseUrl: missing secret (pulumi config set --secret peakops:databaseUrl ...), "
                "or set peakops:inClusterPostgres true for a dev database"
            )
        return self


@dataclass(frozen=True)
class StackConfig:
    stack: str
    namespace: str
    image_tag: str
    app_replicas: tuple[int, int]
    app_cpu_target: int
    app_rps_target: int
    app_rps_metric: bool | None  # None: decide by asking the cluster (infra/program.py)
    edge_replicas: tuple[int, int]
    campaign_plan: str
    prescale_replicas: int
    prescale_lead_minutes: int
    prescale_hold_minutes: int
    database_url: str | None
    admin_token: str
    in_cluster_postgres: bool
    ingress_class: str
    host: str
    cloud: str
    prometheus_operator: bool | None  # None: decide by asking the cluster (infra/program.py)
    load_generator: bool
    load_generator_workers: int


KEYS = tuple(_Config.model_fields)


def parse(values: dict[str, Any], stack: str) -> StackConfig:
    """Raw `peakops:*` values (namespace prefix removed) -> a checked StackConfig."""
    try:
        raw = _Config.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"unknown key (known: {', '.join(KEYS)})"
            where = f"peakops:{key}: " if key else ""
            problems.append(f"stack {stack}: {where}{message}")
        raise ConfigError("\n".join(problems)) from None
    assert raw.adminToken is not None
    return StackConfig(
        stack=stack,
        namespace=raw.namespace,
        image_tag=raw.imageTag,
        app_replicas=(raw.appReplicasMin, raw.appReplicasMax),
        app_cpu_target=raw.appCpuTarget,
        app_rps_target=raw.appRpsTarget,
        app_rps_metric=_auto(raw.appRpsMetric),
        edge_replicas=(raw.edgeReplicasMin, raw.edgeReplicasMax),
        campaign_plan=raw.campaignPlan,
        prescale_replicas=raw.prescaleReplicas,
        prescale_lead_minutes=raw.prescaleLeadMinutes,
        prescale_hold_minutes=raw.prescaleHoldMinutes,
        database_url=raw.databaseUrl,
        admin_token=raw.adminToken,
        in_cluster_postgres=raw.inClusterPostgres,
        ingress_class=raw.ingressClass,
        host=raw.host,
        cloud=raw.cloud,
        prometheus_operator=_auto(raw.prometheusOperator),
        load_generator=raw.loadGenerator,
        load_generator_workers=raw.loadGeneratorWorkers,
    )


def _auto(value: str | bool) -> bool | None:
    """auto -> None (the program asks the cluster; the renderer of k8s/ takes the portable choice)."""
    return None if value == "auto" else value in (True, "true")


def from_stack_file(data: dict[str, Any], stack: str, secrets: dict[str, str] | None = None) -> StackConfig:
    """`Pulumi.<stack>.yaml`'s `config:` -> StackConfig. Secrets (encrypted there, or not set yet) are
    replaced by `secrets`: the renderer passes placeholders and never sees the values."""
    values: dict[str, Any] = dict(secrets or {})
    for key, value in (data.get("config") or {}).items():
        namespace, _, name = str(key).partition(":")
        if namespace != "peakops":
            continue  # kubernetes:context and other providers' keys
        if isinstance(value, dict) and "secure" in value:
            value = (secrets or {}).get(name, "")
        values[name] = value
    return parse(values, stack)
