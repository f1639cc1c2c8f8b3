"""Every stack setting, read once, checked once: a frozen `StackConfig` or a `ConfigError` at start.

Each key is declared once, below: its name (the stack file's key is the field's name in camelCase under
``peakops:``, e.g. ``app_replicas_min`` is ``peakops:appReplicasMin``), its type, default, bounds and
description. docs/stack-config.md is generated from these declarations (`peakops generate`).

The Pulumi program reads the keys with `pulumi.Config("peakops")`; the renderer of `k8s/` reads the same
keys from `Pulumi.<stack>.yaml`. Both go through `parse`, so `pulumi up` and `kubectl apply -k` deploy
the same thing. Errors name the stack and the key: ``stack dev: peakops:appReplicasMin: ...``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from peakops.paths import DEFAULT_PLAN, relative

NAMESPACE = "peakops"  # of the keys: peakops:imageTag, ...
Auto = Literal["auto"]


class ConfigError(ValueError):
    """The stack config is invalid; the message names the stack and the key."""


def _secret(description: str) -> Any:
    return Field(default=None, description=description, json_schema_extra={"secret": True})


class StackConfig(BaseModel):
    """One stack's settings. `auto` settings are decided by asking the cluster (infra/program.py); until
    then they are undecided and the renderer of k8s/ takes the portable choice."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, validate_default=True
    )

    namespace: str = Field(
        default="peakops",
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=63,
        description="Kubernetes namespace of every object.",
    )
    image_tag: str = Field(
        min_length=1, description="The images' tag: a release or a commit, never `latest`."
    )
    app_replicas_min: int = Field(default=2, ge=1, description="HPA minimum of the app.")
    app_replicas_max: int = Field(default=20, ge=1, description="HPA maximum of the app.")
    app_cpu_target: int = Field(default=60, ge=10, le=95, description="HPA target CPU utilisation, percent.")
    app_rps_target: int = Field(default=200, ge=1, description="HPA target requests per second per pod.")
    app_rps_metric: bool | Auto = Field(
        default="auto",
        description=(
            "Scale the app on requests per second too. It needs a custom metrics adapter (e.g. "
            "prometheus-adapter): while any HPA metric is missing, Kubernetes never scales down. `auto` "
            "asks the cluster whether custom.metrics.k8s.io is served."
        ),
    )
    edge_replicas_min: int = Field(default=2, ge=1, description="HPA minimum of the edge.")
    edge_replicas_max: int = Field(default=10, ge=1, description="HPA maximum of the edge.")
    campaign_plan: str = Field(
        default=relative(DEFAULT_PLAN),
        description="The campaign plan (repository-relative): pre-scaling, the exporter's window, Locust.",
    )
    prescale_replicas: int = Field(default=10, ge=1, description="HPA minimum while a post's spike lands.")
    prescale_lead_minutes: int = Field(
        default=10, ge=1, le=120, description="Raise the minimum this long before each post."
    )
    prescale_hold_minutes: int = Field(
        default=60, ge=5, le=24 * 60, description="Lower it again this long after each post."
    )
    database_url: str | None = _secret(
        "PostgreSQL URL of the app; required unless inClusterPostgres is true."
    )
    admin_token: str | None = _secret("The app's admin API token (attribution, fault injection). Required.")
    in_cluster_postgres: bool = Field(
        default=False, description="Run a PostgreSQL in the namespace (dev) instead of an external URL."
    )
    ingress_class: str = Field(default="nginx", description="Ingress class of the public Ingress.")
    host: str = Field(default="shop.example.com", description="Public host name of the shop.")
    cloud: Literal["none", "aws", "gcp", "azure"] = Field(
        default="none", description="The cloud's load balancer annotations on the public Service."
    )
    prometheus_operator: bool | Auto = Field(
        default="auto",
        description=(
            "A PrometheusRule and ServiceMonitors (else ConfigMaps of the rules). `auto` asks the cluster "
            "whether the Prometheus Operator's CRDs are served."
        ),
    )
    load_generator: bool = Field(default=False, description="Run Locust master and workers in the cluster.")
    load_generator_workers: int = Field(default=2, ge=1, le=100, description="Locust workers.")
    load_generator_options: list[str] = Field(
        default_factory=list,
        description="More options of the load generator's Locust master, e.g. `[--test-seconds, 10m]`.",
    )

    @field_validator("image_tag")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if value == "latest":
            raise ValueError("'latest' is not a version: pin the image tag (a release or a commit)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StackConfig:
        for part in ("app", "edge"):
            low, high = getattr(self, f"{part}_replicas_min"), getattr(self, f"{part}_replicas_max")
            if low >= high:
                raise ValueError(f"{part}ReplicasMin ({low}) must be below {part}ReplicasMax ({high})")
        if not self.app_replicas_min <= self.prescale_replicas <= self.app_replicas_max:
            raise ValueError(
                f"prescaleReplicas ({self.prescale_replicas}) must be within appReplicasMin..appReplicasMax "
                f"({self.app_replicas_min}..{self.app_replicas_max})"
            )
        if not self.admin_token:
            raise ValueError("adminToken: missing secret (pulumi config set --secret peakops:adminToken ...)")
        if not self.in_cluster_postgres and not self.database_url:
            raise ValueError(
                "databaseUrl: missing secret (pulumi config set --secret peakops:databaseUrl ...), "
                "or set peakops:inClusterPostgres true for a dev database"
            )
        return self

    @property
    def app_replicas(self) -> tuple[int, int]:
        return self.app_replicas_min, self.app_replicas_max

    @property
    def edge_replicas(self) -> tuple[int, int]:
        return self.edge_replicas_min, self.edge_replicas_max

    @property
    def undecided(self) -> list[str]:
        """The settings still `auto`, by field name."""
        return [name for name in ("prometheus_operator", "app_rps_metric") if getattr(self, name) == "auto"]


KEYS = tuple(field.alias or name for name, field in StackConfig.model_fields.items())
SECRET_KEYS = tuple(
    field.alias or name
    for name, field in StackConfig.model_fields.items()
    if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret")
)


def parse(values: dict[str, Any], stack: str) -> StackConfig:
    """Raw `peakops:*` values (namespace prefix removed, camelCase keys) -> a checked StackConfig."""
    try:
        return StackConfig.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"unknown key (known: {', '.join(KEYS)})"
            where = f"{NAMESPACE}:{key}: " if key else ""
            problems.append(f"stack {stack}: {where}{message}")
        raise ConfigError("\n".join(problems)) from None


def from_stack_file(data: dict[str, Any], stack: str, secrets: dict[str, str] | None = None) -> StackConfig:
    """`Pulumi.<stack>.yaml`'s `config:` -> StackConfig. Secrets (encrypted there, or not set yet) are
    replaced by `secrets`: the renderer passes placeholders and never sees the values."""
    values: dict[str, Any] = dict(secrets or {})
    for key, value in (data.get("config") or {}).items():
        namespace, _, name = str(key).partition(":")
        if namespace != NAMESPACE:
            continue  # kubernetes:context and other providers' keys
        if isinstance(value, dict) and "secure" in value:
            value = (secrets or {}).get(name, "")
        values[name] = value
    return parse(values, stack)


def reference() -> list[dict[str, str]]:
    """Each key with its default and description, for docs/stack-config.md."""
    rows = []
    for name, field in StackConfig.model_fields.items():
        secret = isinstance(field.json_schema_extra, dict) and bool(field.json_schema_extra.get("secret"))
        default = "required" if field.is_required() else "secret" if secret else f"`{field.default}`"
        if isinstance(field.default, bool):
            default = f"`{str(field.default).lower()}`"
        rows.append(
            {
                "key": f"{NAMESPACE}:{field.alias or name}",
                "default": default,
                "description": field.description or "",
            }
        )
    return rows
