"""The directory: who is in which department, keyed by the same pseudonym the gateway gives users.

The one parser of the `user,department` CSV: the gateway and the importers enrich events with it, the pipeline
computes populations with it. Its users are real logins (pseudonymised here with the key, where the key lives) or
pseudonyms already (`alignmon directory pseudonymise` writes them); without the key, as in the pipeline, only
pseudonyms pass: the pipeline never sees a real name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from base.csvfile import CsvReader, read_text
from base.errors import InvalidFileError, Issue
from base.pseudonym import PSEUDONYM, pseudonymise

REQUIRED_COLUMNS = ("user", "department")


@dataclass(frozen=True)
class Directory:
    """Pseudonym -> department for everyone in the organisation (raw user names are never kept)."""

    members: Mapping[str, str]
    path: Path | None = None
    _by_department: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        groups: dict[str, set[str]] = {}
        for user, department in self.members.items():
            groups.setdefault(department, set()).add(user)
        object.__setattr__(self, "_by_department", {dep: frozenset(users) for dep, users in groups.items()})

    @property
    def departments(self) -> list[str]:
        """Department names, sorted."""
        return sorted(self._by_department)

    def __len__(self) -> int:
        return len(self.members)

    def department_of(self, pseudonym: str) -> str | None:
        return self.members.get(pseudonym)

    def members_of(self, department: str) -> frozenset[str]:
        return self._by_department.get(department, frozenset())

    def population(self, departments: Collection[str] | None = None) -> frozenset[str]:
        """The target population: members of the given departments, or everyone when none are given."""
        if not departments:
            return frozenset(self.members)
        return frozenset().union(*(self.members_of(dep) for dep in departments))


def parse_directory(text: str, key: bytes | None, source: str = "<directory>", path: Path | None = None) -> Directory:
    """Parse CSV text with a `user,department` header; raises InvalidFileError naming every bad line.

    A user that is a pseudonym already is kept; any other is pseudonymised with `key`, or refused without one.
    """
    csv_file = CsvReader(text, source, "a 'user,department' header")
    header = csv_file.header
    columns = [name.strip().casefold() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise InvalidFileError(
            [
                Issue(
                    source,
                    1,
                    "(header)",
                    f"missing column {', '.join(repr(m) for m in missing)}: the header must name "
                    f"'user' and 'department' (found {', '.join(repr(c) for c in header) or 'nothing'})",
                )
            ]
        )
    user_col, dep_col = columns.index("user"), columns.index("department")
    members: dict[str, str] = {}
    first_line: dict[str, tuple[int, str, str]] = {}
    issues: list[Issue] = []
    real_names: list[int] = []  # lines whose user is not a pseudonym, where no key may make one
    for line, row in csv_file.rows(issues):
        if len(row) <= max(user_col, dep_col):
            issues.append(Issue(source, line, "(row)", f"expected {len(header)} columns, got {len(row)}"))
            continue
        user, department = row[user_col].strip(), row[dep_col].strip()
        if not user:
            issues.append(Issue(source, line, "user", "empty user"))
            continue
        if not department:
            # The user unquoted: without a key this may be a real name, and the message reaches the pipeline's log.
            issues.append(Issue(source, line, "department", "empty department"))
            continue
        if PSEUDONYM.fullmatch(user):
            pseudonym = user
        elif key is None:
            real_names.append(line)  # never quoted: the message goes to logs the pipeline's operators read
            continue
        else:
            pseudonym = pseudonymise(user, key)
        if pseudonym in first_line:
            earlier_line, earlier_user, earlier_dep = first_line[pseudonym]
            if earlier_dep != department:
                issues.append(
                    Issue(
                        source,
                        line,
                        "department",
                        f"user {user!r} is in {department!r} here but in {earlier_dep!r} at line "
                        f"{earlier_line} ({earlier_user!r}); a user belongs to one department",
                    )
                )
            continue
        first_line[pseudonym] = (line, user, department)
        members[pseudonym] = department
    if real_names:
        more = f" (and {len(real_names) - 1} more lines)" if len(real_names) > 1 else ""
        message = (
            f"not a pseudonym{more}: the pipeline never reads real names, nor shows them here; pseudonymise the "
            "directory where the key is (alignmon directory pseudonymise IN OUT)"
        )
        issues.insert(0, Issue(source, real_names[0], "user", message))
    if issues:
        raise InvalidFileError(issues)
    return Directory(members, path)


def load_directory(path: Path, key: bytes | None) -> Directory:
    """Load a `user,department` CSV file into pseudonym -> department (same key as the gateway; None: pseudonyms)."""
    return parse_directory(read_text(path), key, str(path), path)


def to_csv(directory: Directory) -> str:
    """The directory as a `user,department` CSV of pseudonyms, sorted (what the pipeline may read)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REQUIRED_COLUMNS)
    writer.writerows(sorted(directory.members.items()))
    return out.getvalue()
