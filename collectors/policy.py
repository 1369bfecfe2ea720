"""Privacy and enrichment applied to every event before it reaches Kafka (gateway and importers alike)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from base.directory import load_directory
from base.pseudonym import pseudonymise, pseudonymise_device
from collectors.event import UsageEvent
from collectors.granularity import Granularity, coarsen
from collectors.identifier import without_user

if TYPE_CHECKING:
    from base.settings import Settings

# Pseudonyms remembered per policy (so per key): a fleet's users and devices, with room to spare. Bounded, because
# the user names come from devices: a device inventing names must not grow the gateway's memory without limit.
PSEUDONYM_CACHE = 65_536


@dataclass(frozen=True)
class PrivacyPolicy:
    """Pseudonymise user and device, take the user out of paths, drop the title unless enabled, set the department
    from the directory only, and coarsen times to the granularity (days in `timezone`).

    Pseudonyms are HMACs of the key: each policy remembers the ones it computed (its key never changes; a policy
    with another key is another object, with caches of its own).
    """

    key: bytes
    titles_enabled: bool = False
    departments: dict[str, str] | None = field(default=None)
    granularity: Granularity = "exact"
    timezone: ZoneInfo = field(default=ZoneInfo("UTC"))
    user_pseudonym: Callable[[str], str] = field(init=False, repr=False, compare=False)
    device_pseudonym: Callable[[str], str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cache = lru_cache(maxsize=PSEUDONYM_CACHE)
        object.__setattr__(self, "user_pseudonym", cache(partial(pseudonymise, key=self.key)))
        object.__setattr__(self, "device_pseudonym", cache(partial(pseudonymise_device, key=self.key)))

    @classmethod
    def from_settings(cls, settings: Settings) -> PrivacyPolicy:
        """The policy the settings describe: pseudonym key, titles, directory CSV, time granularity and zone."""
        key = settings.pseudonym_key()
        directory = load_directory(settings.directory_csv, key) if settings.directory_csv else None
        members = dict(directory.members) if directory else None
        return cls(key, settings.titles_enabled, members, settings.time_granularity, ZoneInfo(settings.timezone))

    def apply(self, event: UsageEvent) -> list[UsageEvent]:
        """What may leave the gateway for one event: no raw user or device name, no title unless allowed, and at
        `hour` or `day` granularity one event per local day with a coarse start (collectors.granularity)."""
        pseudonym = self.user_pseudonym(event.user)
        # A device never decides its user's department (it could claim any): only the directory does.
        departments = self.departments or {}
        update: dict[str, object] = {
            "user": pseudonym,
            "department": departments.get(pseudonym),
            "device_id": self.device_pseudonym(event.device_id),
            "app": without_user(event.app, event.user),
        }
        if not self.titles_enabled:
            update["title"] = None
        return coarsen(event.model_copy(update=update), self.granularity, self.timezone)
