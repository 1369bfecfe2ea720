"""The adoption refresh, by what each part holds (`pipeline.refresh` runs them in order).

- `catalog_sync`: the catalog and the directory into DuckDB tables; raw identifiers mapped to applications.
- `series`: the daily adoption series and the current per-department and per-application counts (SQL).
- `current`: every docs/metrics.md figure of an investment as of one day; `adoption_current`'s columns; writing them.
- `attainment`: initiative and objective attainment of those figures.
"""
