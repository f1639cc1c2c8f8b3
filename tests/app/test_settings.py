from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import Settings, normalise_database_url


def test_defaults_are_a_sqlite_file_in_the_data_dir_and_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PEAKOPS_DATABASE_URL", "PEAKOPS_ADMIN_TOKEN", "PEAKOPS_WEBHOOK_SECRETS", "PEAKOPS_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings()
    assert settings.resolved_database_url() == f"sqlite+aiosqlite:///{settings.data_dir / 'peakops.db'}"
    assert settings.admin_token is None
    assert settings.webhook_secrets == {}


def test_environment_with_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PEAKOPS_DATABASE_URL", "postgresql://shop@db/shop")
    monkeypatch.setenv("PEAKOPS_ADMIN_TOKEN", "t0ken")
    monkeypatch.setenv("PEAKOPS_WEBHOOK_SECRETS", '{"instagram": "s"}')
    monkeypatch.setenv("PEAKOPS_CATALOG", str(tmp_path / "c.yaml"))
    settings = Settings()
    assert settings.resolved_database_url() == "postgresql+asyncpg://shop@db/shop"
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "t0ken"
    assert "t0ken" not in repr(settings)
    assert settings.webhook_secrets["instagram"].get_secret_value() == "s"
    assert settings.catalog == tmp_path / "c.yaml"


def test_empty_admin_token_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEAKOPS_ADMIN_TOKEN", "")
    assert Settings().admin_token is None


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEAKOPS_DATABASE_URL", "mysql://x")
    with pytest.raises(ValidationError, match="database_url"):
        Settings()


def test_url_normalisation() -> None:
    assert normalise_database_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"
    assert normalise_database_url("postgres://u@h/d") == "postgresql+asyncpg://u@h/d"
