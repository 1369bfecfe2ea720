"""Settings read in one place: defaults that work from a fresh clone, secrets typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from base.settings import EXAMPLE_CATALOG, Settings
from pipeline.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_catalog_dir_exists_in_a_checkout_and_loads() -> None:
    default = Settings.model_fields["catalog_dir"].default
    assert default == EXAMPLE_CATALOG and not default.is_absolute()  # resolved from the working directory
    assert load_catalog(ROOT / default).investments


def test_tokens_are_settings_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNMON_AGENT_TOKEN", "agent-secret")
    monkeypatch.setenv("ALIGNMON_GRAFANA_TOKEN", "grafana-secret")
    settings = Settings()
    assert settings.agent_token is not None and settings.agent_token.get_secret_value() == "agent-secret"
    assert settings.grafana_token is not None and settings.grafana_token.get_secret_value() == "grafana-secret"
    assert "agent-secret" not in repr(settings) and "grafana-secret" not in repr(settings)


def test_a_setting_that_does_not_parse_is_one_line_naming_it(alignmon: Any) -> None:
    result = alignmon.run(["catalog", "check"], {"ALIGNMON_EXPORTER_PORT": "abc", "ALIGNMON_K_ANONYMITY": "x"})
    assert result.returncode == 1
    assert result.stderr == (
        "alignmon: error: ALIGNMON_EXPORTER_PORT='abc': Input should be a valid integer, unable to parse string as "
        "an integer; ALIGNMON_K_ANONYMITY='x': Input should be a valid integer, unable to parse string as an integer\n"
    )
