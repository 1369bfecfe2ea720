"""Privacy and enrichment applied to every accepted event before it reaches Kafka."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from alignmon.errors import AlignmonError
from collectors.event import UsageEvent
from collectors.pseudonym import pseudonymise


def load_departments(path: Path, key: bytes) -> dict[str, str]:
    """A `user,department` CSV (with header) as pseudonym -> department, keyed like the events."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AlignmonError(f"{path}: cannot read the directory CSV: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if header[:2] != ["user", "department"]:
        raise AlignmonError(f"{path}:1: the header must be 'user,department', got {','.join(header)!r}")
    departments: dict[str, str] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise AlignmonError(f"{path}:{line}: expected 'user,department' with both filled in, got {row!r}")
        user, department = row[0].strip(), row[1].strip()
        pseudonym = pseudonymise(user, key)
        earlier = departments.setdefault(pseudonym, department)
        if earlier != department:
            raise AlignmonError(f"{path}:{line}: user {user!r} is in {department!r} here but in {earlier!r} above")
    return departments


@dataclass(frozen=True)
class PrivacyPolicy:
    """Pseudonymise the user, drop the title unless enabled, set the department from the directory only."""

    key: bytes
    titles_enabled: bool = False
    departments: dict[str, str] | None = field(default=None)

    def apply(self, event: UsageEvent) -> UsageEvent:
        """The event as it may leave the gateway: no raw user name, no title unless allowed."""
        pseudonym = pseudonymise(event.user, self.key)
        # A device never decides its user's department (it could claim any): only the directory does.
        departments = self.departments or {}
        update: dict[str, object] = {"user": pseudonym, "department": departments.get(pseudonym)}
        if not self.titles_enabled:
            update["title"] = None
        return event.model_copy(update=update)
