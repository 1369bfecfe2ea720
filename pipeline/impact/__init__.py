"""The effect of interventions on adoption, read from the pipeline's DuckDB file (`alignmon impact`).

`estimates.estimate_all(con, interventions, as_of)` counts the people of each intervention's treated and comparison
departments by activity pattern and coverage (SQL, counts only) and hands them to pipeline.domain.impact, the pure
estimator; `output` renders the results as a table, CSV or JSON; `commands` is `alignmon interventions` and
`alignmon impact`; `published` fills the analysts' `intervention_effects` table when the pipeline refreshes.
"""
