"""Privacy and enrichment applied to every event before it reaches Kafka (gateway and importers alike)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from base.directory import load_directory
from base.pseudonym import pseudonymise, pseudonymise_device
from collectors.event import UsageEvent
from collectors.identifier import without_user

if TYPE_CHECKING:
    from base.settings import Settings


@dataclass(frozen=True)
class PrivacyPolicy:
    """Pseudonymise user and device, take the user out of paths, drop the title unless enabled, set the department
    from the directory only."""

    key: bytes
    titles_enabled: bool = False
    departments: dict[str, str] | None = field(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> PrivacyPolicy:
        """The policy the settings describe: their pseudonym key, title choice and directory CSV."""
        key = settings.pseudonym_key()
        directory = load_directory(settings.directory_csv, key) if settings.directory_csv else None
        return cls(key, settings.titles_enabled, dict(directory.members) if directory else None)

    def apply(self, event: UsageEvent) -> UsageEvent:
        """The event as it may leave the gateway: no raw user or device name, no title unless allowed."""
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
        return event.model_copy(update=update)
