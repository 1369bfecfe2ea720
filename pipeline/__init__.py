"""The single writer of the DuckDB database: Kafka consumer, catalog, rollups, adoption."""
