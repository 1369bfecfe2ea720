"""The simulated people: departments, users with stable names, their devices and habits."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import NamedTuple

from collectors.simulate.applications import APPS, Platform
from collectors.simulate.stories import StorySpec


class Department(NamedTuple):
    """A department and its size at scale 1; `scales` is False for one kept small at every scale."""

    name: str
    size: int
    scales: bool = True


# Legal stays at 4 at every scale, below the default k = 5, so k-anonymity suppression is always exercised.
DEPARTMENTS: tuple[Department, ...] = (
    Department("Sales", 60),
    Department("Support", 40),
    Department("Engineering", 80),
    Department("Finance", 15),
    Department("HR", 8),
    Department("Legal", 4, scales=False),
)


class Device(NamedTuple):
    """One endpoint: its id (no user name in it), platform and the identifier it reports per app."""

    id: str
    platform: Platform
    full_paths: bool  # Windows collectors differ: some report full paths, some executable names
    identifiers: dict[str, str]  # app id -> raw identifier


class Background(NamedTuple):
    """A background application in a user's day: its share of the free focus time and its span lengths."""

    app: str
    weight: float
    min_span_s: int
    max_span_s: int


class User(NamedTuple):
    """One person of the fleet; everything the day generator needs that does not change day to day."""

    position: int  # in the directory's order; seeds the user's daily randomness
    name: str
    department: str
    devices: tuple[Device, ...]
    start_shift_s: int  # habitual start relative to 09:00
    late_worker: bool  # sometimes works late, with a span that crosses midnight
    stories: tuple[tuple[int, float], ...]  # (story index, adoption threshold in [0, 1))
    background: tuple[Background, ...]
    mail_app: str
    evening_apps: tuple[str, str]


def department_sizes(scale: float, departments: Sequence[Department] = DEPARTMENTS) -> list[tuple[str, int]]:
    """Department names and head counts at a scale (at least one person each)."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    return [(d.name, max(1, round(d.size * scale)) if d.scales else d.size) for d in departments]


def _device_id(seed: int, user: str, n: int) -> str:
    # Hostnames often carry the owner's name; simulated ones deliberately do not.
    return "dev-" + hashlib.sha1(f"{seed}:{user}:{n}".encode()).hexdigest()[:12]


def _platform(rng: random.Random, department: str) -> Platform:
    roll = rng.random()
    if department == "Engineering":
        return "linux" if roll < 0.5 else "mac" if roll < 0.85 else "windows"
    return "windows" if roll < 0.8 else "mac"


def _device(seed: int, user: str, n: int, platform: Platform, rng: random.Random) -> Device:
    full_paths = platform == "windows" and rng.random() < 0.5
    identifiers = {app.id: app.identifier(platform, full_paths) for app in APPS}
    return Device(_device_id(seed, user, n), platform, full_paths, identifiers)


def _background(rng: random.Random, department: str, platform: Platform) -> tuple[tuple[Background, ...], str, str]:
    """The user's background mix, mail client and main work tool."""
    linux = platform == "linux"
    browser = (
        ("firefox" if rng.random() < 0.7 else "chrome") if linux else ("chrome" if rng.random() < 0.65 else "firefox")
    )
    mail = "thunderbird" if linux else "outlook"
    if department == "Engineering":
        ide = "vscode" if rng.random() < 0.6 else "intellij"
        office = "libreoffice" if linux else "excel"
        mix: tuple[Background, ...] = (
            Background(mail, 0.10, 60, 600),
            Background(browser, 0.25, 120, 1500),
            Background(ide, 0.40, 600, 3000),
            Background("terminal", 0.18, 120, 900),
            Background(office, 0.07, 300, 1800),
        )
        return mix, mail, ide
    spreadsheet = 0.35 if department == "Finance" else 0.20
    mix = (
        Background(mail, 0.22, 60, 600),
        Background(browser, 0.38, 120, 1500),
        Background("excel", spreadsheet, 300, 2400),
        Background("word", 0.18, 300, 2400),
    )
    return mix, mail, browser


def build_users(seed: int, scale: float, stories: Sequence[StorySpec]) -> tuple[list[tuple[str, int]], list[User]]:
    """Departments and users, deterministic for a seed and scale."""
    rng = random.Random(f"alignmon-simulate:{seed}")
    sizes = department_sizes(scale)
    names: list[tuple[str, str]] = []
    for department, size in sizes:
        width = max(3, len(str(size)))
        names += [(f"{department.lower()}.{i:0{width}d}", department) for i in range(1, size + 1)]

    # Thresholds spread evenly over each story's population, so adoption counts track the curve exactly.
    thresholds: list[list[tuple[int, float]]] = [[] for _ in names]
    for s, story in enumerate(stories):
        members = [i for i, (_, dept) in enumerate(names) if not story.departments or dept in story.departments]
        ranks = rng.sample(range(len(members)), len(members))
        for member, rank in zip(members, ranks, strict=True):
            thresholds[member].append((s, (rank + 0.5) / len(members)))

    late = set(rng.sample(range(len(names)), min(len(names), max(2, round(0.03 * len(names))))))
    users: list[User] = []
    for i, (name, department) in enumerate(names):
        primary = _platform(rng, department)
        devices = [_device(seed, name, 1, primary, rng)]
        if rng.random() < 0.3:
            # A second machine: same OS (desktop + laptop), except Linux people who get a Mac laptop.
            devices.append(_device(seed, name, 2, "mac" if primary == "linux" else primary, rng))
        background, mail, work_tool = _background(rng, department, primary)
        users.append(
            User(
                position=i,
                name=name,
                department=department,
                devices=tuple(devices),
                start_shift_s=rng.randint(-20 * 60, 20 * 60),
                late_worker=i in late,
                stories=tuple(thresholds[i]),
                background=background,
                mail_app=mail,
                evening_apps=(mail, work_tool),
            )
        )
    return sizes, users
