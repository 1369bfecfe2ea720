"""Privacy and enrichment applied to every event before it reaches Kafka (gateway and importers alike)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from base.directory import load_directory
from base.errors import InvalidFileError
from base.pseudonym import pseudonymise, pseudonymise_device
from collectors.event import UsageEvent
from collectors.granularity import Granularity, coarsen
from collectors.identifier import without_user

if TYPE_CHECKING:
    from base.settings import Settings

log = logging.getLogger(__name__)

# How often the gateway looks at the directory CSV (one stat): a feed reaches the events within two of these (it is
# read once it stayed the same over one).
DIRECTORY_CHECK_S = 5.0

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

    def with_departments(self, departments: dict[str, str]) -> PrivacyPolicy:
        """This policy with another directory; the pseudonyms computed so far stay remembered (the key is the same)."""
        policy = replace(self, departments=departments)
        object.__setattr__(policy, "user_pseudonym", self.user_pseudonym)
        object.__setattr__(policy, "device_pseudonym", self.device_pseudonym)
        return policy

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


# The directory CSV as last seen: inode (a replacement), mtime, ctime (a chmod) and size; None: no file.
Stamp = tuple[int, int, int, int] | None


def _stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


class PolicySource:
    """The policy to apply now: `policy`, its departments re-read from `directory_csv` when the file changes.

    HR's feed replaces the CSV while the gateway runs. `current()` stats it at most every `check_interval_s`; a file
    other than the one read last (inode, mtime, ctime or size) is read once it has stayed the same over one check, so
    a copy still being written is not taken. One that cannot be read or parsed, or lists nobody, is logged and the
    last good directory stays in use; it is tried again when it changes (a chmod included).
    """

    def __init__(
        self,
        policy: PrivacyPolicy,
        directory_csv: Path | None = None,
        *,
        stamp: Stamp = None,
        check_interval_s: float = DIRECTORY_CHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self._csv = directory_csv
        self._tried = self._seen = stamp  # the file last read (or tried), and as the last check saw it
        self._interval = check_interval_s
        self._clock = clock
        self._checked_at = clock()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], float] = time.monotonic) -> PolicySource:
        """The settings' policy (raising what PrivacyPolicy.from_settings raises), watching their directory CSV."""
        csv = settings.directory_csv
        stamp = _stamp(csv) if csv is not None else None  # before reading it: a feed meanwhile is read at a check
        return cls(PrivacyPolicy.from_settings(settings), csv, stamp=stamp, clock=clock)

    def current(self) -> PrivacyPolicy:
        if self._csv is None or self._clock() - self._checked_at < self._interval:
            return self._policy
        # Requests never wait for a check: one request makes it (a reload of 50,000 people takes about 0.2 s, once a
        # feed), the others go on with the policy as it is.
        if self._lock.acquire(blocking=False):
            try:
                if self._clock() - self._checked_at >= self._interval:
                    self._checked_at = self._clock()
                    self._check(self._csv)
            finally:
                self._lock.release()
        return self._policy

    def _check(self, csv: Path) -> None:
        stamp = _stamp(csv)
        settled, self._seen = stamp == self._seen, stamp
        if settled and stamp != self._tried:
            self._tried = stamp
            self._reload(csv)

    def _reload(self, csv: Path) -> None:
        try:
            directory = load_directory(csv, self._policy.key)
        except (InvalidFileError, OSError) as exc:
            log.error("directory %s not reloaded (the last good one stays in use): %s", csv, exc)
            return
        if not directory.members and self._policy.departments:  # a header alone: an export cut short, most likely
            log.error("directory %s not reloaded (the last good one stays in use): it lists nobody", csv)
            return
        self._policy = self._policy.with_departments(dict(directory.members))
        log.info("directory %s reloaded: %d people", csv, len(directory.members))
