"""The `source` names alignmon's own collectors send: the one list the contract, the settings and the metrics use.

Below the collectors (base), so the settings' help text can name them too. Metrics name these sources and the site's
own (ALIGNMON_EXTRA_SOURCES); any other value a client sends is counted as OTHER_SOURCE, so clients cannot add series.
"""

from __future__ import annotations

from typing import Final

SOURCES: Final = ("agent", "activitywatch", "whatpulse", "osquery", "simulator")  # the agent, importers, simulator
OTHER_SOURCE: Final = "other"
