"""A seeded, deterministic synthetic fleet for demos, tests and benchmarks (`alignmon simulate`).

`Organisation.build(seed, scale, as_of)` gives departments (Sales 60, Support 40, Engineering 80,
Finance 15, HR 8 and Legal 4, which stays below k at every scale), users named like `sales.017` with one
or two devices each, a matching directory CSV and catalog YAML (dates relative to `as_of`), and usage
events: `events_for_day(day)` (UsageEvent), `dicts_for_day(day)` (JSON-ready, fastest), `backfill(days)`
and `live(...)`. A day's events depend only on (seed, scale, as_of, tz, day).

The fleet plays out named stories (`STORIES`; their expected outcomes on the as-of day are
`org.stories`): a CRM rollout on track, a stalled ERP rollout (status `low`), Teams displacing Skype for
Business, unsanctioned Notion spreading past k, over-licensed Tableau with a renewal due, an orphan Zoom
investment, and an uncatalogued tool used by fewer than k people.
"""

from collectors.simulate.organisation import Organisation
from collectors.simulate.stories import STORIES, Story, StorySpec

__all__ = ["STORIES", "Organisation", "Story", "StorySpec"]
