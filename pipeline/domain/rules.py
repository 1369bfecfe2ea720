"""The constants of docs/metrics.md, each written once; every module and every SQL query takes them from here.

SQL receives them as named parameters (`$active_s`, `$week_days`, `$month_days`) or, in the views (which take
no parameters), formatted in by `pipeline.sql` when the views are installed.
"""

from __future__ import annotations

from typing import Final

ACTIVE_MINUTES: Final = 5.0
"""Focus minutes on one day that make an active day (default `min_minutes`)."""
ACTIVE_SECONDS: Final = round(ACTIVE_MINUTES * 60)
"""ACTIVE_MINUTES in seconds (300), the unit the SQL counts in."""
WEEK_DAYS: Final = 7
"""The 7-day window D-6..D (WAU)."""
MONTH_DAYS: Final = 28
"""The 28-day window D-27..D (MAU, adoption, coverage, trend, shadow IT)."""
S_CURVE_STEEPNESS: Final = 10.0
"""L(x) = 1 / (1 + e^(-S_CURVE_STEEPNESS * (x - 0.5))) of the s_curve plan."""
TOLERANCE: Final = 0.10
"""A day is below plan when adoption < planned * (1 - TOLERANCE)."""
LOW_DAYS: Final = 7
"""Days in a row below plan (each known) before the status is `low`."""
MIN_COVERAGE: Final = 0.5
"""Coverage below which adoption is `unknown`, never `low`."""
K_ANONYMITY: Final = 5
"""Fewest distinct people a figure broken down by group may cover."""
MIN_FIT_DAYS: Final = 14
"""Known daily points since go-live the forecast needs (`min_fit_days`); fewer is `insufficient_data`."""
SHADOW_GROWTH_DAYS: Final = (WEEK_DAYS, MONTH_DAYS)
"""Windows (days) over which a shadow-IT application's growth in active users is computed and exported."""
EFFECT_WINDOW_DAYS: Final = MONTH_DAYS
"""Days in each window of an intervention's effect estimate: before it, after it, and before that (pre-trend)."""
EFFECT_LEVEL: Final = 0.99
"""Confidence level of the effect estimate's bootstrap interval."""
EFFECT_RESAMPLES: Final = 2000
"""Bootstrap resamples of the effect estimate."""
EFFECT_SEED: Final = 0
"""Seed of the effect estimate's bootstrap (with the intervention's id: same data, same interval)."""
EFFECT_SETTLE_DAYS: Final = 7
"""Days after the window after ends before an effect is estimated: telemetry a device kept offline arrives late (as
many days as a device may be quiet before the fleet's health calls it silent, the default ALIGNMON_SILENT_DAYS)."""
EFFECT_PSEUDO_PEOPLE: Final = 2
"""People added to each group in every bootstrap resample, drawn alike from the four before/after activity cells."""

# One identity rule for an application the catalog does not know: it is its raw identifier, verbatim (no
# folding of paths, case or `.exe`), in application_activity, the shadow_it view, the exporter's label and the
# alignment report alike. Where one column mixes catalog ids and raw identifiers (usage_daily, the alignment
# facts) the raw identifier carries this prefix.
UNCATALOGUED: Final = "uncatalogued:"


def app_key(application: str | None, raw: str) -> str:
    """The key of a raw identifier in a mixed column: its catalog application, else `uncatalogued:<raw>`."""
    return application if application is not None else UNCATALOGUED + raw


def app_name(key: str) -> str:
    """What a key names: the catalog id, or the raw identifier of an uncatalogued application."""
    return key.removeprefix(UNCATALOGUED)


def app_key_sql(application: str, raw: str) -> str:
    """app_key() in SQL, over the columns `application` (NULL when uncatalogued) and `raw`."""
    return f"coalesce({application}, '{UNCATALOGUED}' || {raw})"


def app_name_sql(application: str, raw: str) -> str:
    """app_name(app_key()) in SQL: the catalog id, else the raw identifier."""
    return f"coalesce({application}, {raw})"
