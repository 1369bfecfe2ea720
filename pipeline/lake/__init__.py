"""The lake: closed days as Parquet on a local folder or S3-compatible storage (docs/lake.md)."""
