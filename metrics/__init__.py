"""The Prometheus side: exporter, recording and alerting rules, Alertmanager configuration."""
