"""The Prometheus datasource every alignmon panel queries (uid shared with Grafana's provisioning)."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.models.common import DataSourceRef

# Same uid as deploy/grafana/provisioning/datasources/prometheus.yaml: dashboards refer to it by uid,
# so they work whether Grafana got the datasource from that file or from `alignmon dashboards push`.
DATASOURCE_UID = "alignmon-prometheus"
DATASOURCE_TYPE = "prometheus"
DATASOURCE_NAME = "Prometheus"


def ref() -> DataSourceRef:
    """The reference panels, targets and variables carry."""
    return DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


def definition(url: str, scrape_interval: str = "30s") -> dict[str, Any]:
    """The datasource as the Grafana API takes it (POST /api/datasources), matching the provisioning file."""
    return {
        "uid": DATASOURCE_UID,
        "name": DATASOURCE_NAME,
        "type": DATASOURCE_TYPE,
        "access": "proxy",
        "url": url,
        "isDefault": True,
        # Grafana's $__rate_interval is at least 4 x this; keep it equal to Prometheus' scrape interval.
        "jsonData": {"timeInterval": scrape_interval},
    }
