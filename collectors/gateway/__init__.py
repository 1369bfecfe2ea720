"""The HTTP ingestion gateway: authenticate devices, validate and pseudonymise events, produce to Kafka."""
