"""Grafana dashboards as code, provisioning and the grafana-client sync."""
