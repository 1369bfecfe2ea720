"""Settings read in one place: defaults that work from a fresh clone, secrets typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.settings import Settings
from pipeline.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_catalog_dir_exists_and_loads() -> None:
    default = Settings.model_fields["catalog_dir"].default
    assert load_catalog(ROOT / default).investments


def test_tokens_are_settings_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNMON_AGENT_TOKEN", "agent-secret")
    monkeypatch.setenv("ALIGNMON_GRAFANA_TOKEN", "grafana-secret")
    settings = Settings()
    assert settings.agent_token is not None and settings.agent_token.get_secret_value() == "agent-secret"
    assert settings.grafana_token is not None and settings.grafana_token.get_secret_value() == "grafana-secret"
    assert "agent-secret" not in repr(settings) and "grafana-secret" not in repr(settings)
