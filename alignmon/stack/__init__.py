"""The local stack (Kafka, Prometheus, Alertmanager) run as plain processes, no Docker needed."""
