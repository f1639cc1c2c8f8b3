"""The app's whole configuration: one pydantic-settings class, every field overridable as PEAKOPS_<NAME>."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "peakops"


class Settings(BaseSettings):
    """Settings of one app instance.

    Secrets (`admin_token`, `webhook_secrets`) have no defaults on purpose: without them the admin API
    (attribution, fault injection) and the webhooks answer 404, so a forgotten secret never ships an
    open door.
    """

    model_config = SettingsConfigDict(env_prefix="PEAKOPS_", extra="ignore", frozen=True)

    data_dir: Path = DEFAULT_DATA_DIR
    # Empty means: a SQLite file in data_dir. PostgreSQL: postgresql+asyncpg://user@host/db
    database_url: str = ""
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=20, ge=0)
    catalog: Path | None = None

    admin_token: SecretStr | None = None
    # JSON object in the environment: PEAKOPS_WEBHOOK_SECRETS='{"instagram": "...", "agency": "..."}'
    webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    webhook_tolerance_seconds: int = Field(default=300, ge=1)

    # Landing pages are cacheable by the edge; stale-while-revalidate lets it absorb the spike's first
    # second while one request refreshes the page.
    landing_max_age: int = Field(default=30, ge=0)
    landing_stale_while_revalidate: int = Field(default=60, ge=0)
    landing_stale_if_error: int = Field(default=600, ge=0)
    # How long the in-process catalog snapshot (landing pages, product list with stock) may be reused.
    # Checkout always reads stock from the database, so this only bounds how stale a displayed stock is.
    catalog_cache_seconds: float = Field(default=1.0, ge=0)
    # Past that age the old snapshot is still served this much longer while one background read
    # refreshes it, so no request waits on a refresh during a spike.
    catalog_stale_seconds: float = Field(default=5.0, ge=0)

    payment_timeout_seconds: float = Field(default=2.0, gt=0)
    payment_max_attempts: int = Field(default=3, ge=1)
    payment_backoff_seconds: float = Field(default=0.05, ge=0)
    payment_circuit_failure_threshold: int = Field(default=5, ge=1)
    payment_circuit_reset_seconds: float = Field(default=10.0, gt=0)
    payment_sandbox_latency_seconds: float = Field(default=0.0, ge=0)

    # Load shedding: above this many requests in flight, non-critical routes answer 503 at once so
    # checkout keeps the CPU.
    shed_inflight_threshold: int = Field(default=256, ge=1)

    # Seconds between readiness turning false and the server closing its socket on SIGTERM, so a load
    # balancer polling /readyz stops sending new requests before the port goes away.
    shutdown_drain_seconds: float = Field(default=0.0, ge=0)
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0)

    # The load balancers whose X-Forwarded-For names the client (addresses or networks, JSON list). From
    # any other peer the header is the client's own claim and the client is the connection's address.
    # Empty (the default): no proxy header is believed. Example: ["10.0.2.10", "10.0.2.11"]
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("admin_token", "catalog", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # PEAKOPS_ADMIN_TOKEN= (empty) must mean "off", never "the empty string is the password";
        # PEAKOPS_CATALOG= means no seed, not the current directory.
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgres")):
            raise ValueError("must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.data_dir / 'peakops.db'}"


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (postgresql://, sqlite:///) and pick the async driver for them."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url
