"""Privacy and enrichment applied to every event before it reaches Kafka (gateway and importers alike)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from base.directory import load_directory
from base.pseudonym import pseudonymise, pseudonymise_device
from collectors.event import UsageEvent
from collectors.granularity import Granularity, coarsen
from collectors.identifier import without_user

if TYPE_CHECKING:
    from base.settings import Settings


@dataclass(frozen=True)
class PrivacyPolicy:
    """Pseudonymise user and device, take the user out of paths, drop the title unless enabled, set the department
    from the directory only, and coarsen times to the granularity (days in `timezone`)."""

    key: bytes
    titles_enabled: bool = False
    departments: dict[str, str] | None = field(default=None)
    granularity: Granularity = "exact"
    timezone: ZoneInfo = field(default=ZoneInfo("UTC"))

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
        pseudonym = pseudonymise(event.user, self.key)
        # A device never decides its user's department (it could claim any): only the directory does.
        departments = self.departments or {}
        update: dict[str, object] = {
            "user": pseudonym,
            "department": departments.get(pseudonym),
            "device_id": pseudonymise_device(event.device_id, self.key),
            "app": without_user(event.app, event.user),
        }
        if not self.titles_enabled:
            update["title"] = None
        return coarsen(event.model_copy(update=update), self.granularity, self.timezone)
