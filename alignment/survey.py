"""Luftman survey answers from CSV: one row per respondent role, criterion, attribute and score 1-5."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from alignment.criteria import CRITERIA_BY_ID
from base.errors import AlignmonError

ROLES = ("business", "it")
REQUIRED = ("respondent_role", "criterion", "attribute", "score")
OPTIONAL = ("respondent", "comment")


@dataclass(frozen=True)
class Answer:
    """One rating of one attribute by one respondent."""

    role: str
    criterion: str
    attribute: str
    score: float
    respondent: str = ""


class SurveyError(AlignmonError):
    """A survey file is not valid; the message lists every problem as file:line: field: message."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid survey:\n" + "\n".join(problems))


def parse_survey(text: str, source: str = "<survey>") -> list[Answer]:
    """Parse and validate survey CSV text; raises SurveyError naming the line and field of every problem."""
    rows = list(csv.reader(text.splitlines()))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise SurveyError([f"{source}:1: (header): empty file; expected the header {','.join(REQUIRED)}"])
    header = [cell.strip().lower() for cell in rows[0]]
    problems = [f"{source}:1: {name}: missing column" for name in REQUIRED if name not in header]
    problems += [
        f"{source}:1: {name}: unknown column (allowed: {', '.join(REQUIRED + OPTIONAL)})"
        for name in header
        if name not in REQUIRED + OPTIONAL
    ]
    if problems:
        raise SurveyError(problems)
    answers: list[Answer] = []
    for line, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.append(f"{source}:{line}: (row): {len(cells)} fields, the header has {len(header)}")
            continue
        row = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        answer, row_problems = _answer(row)
        problems += [f"{source}:{line}: {field}: {message}" for field, message in row_problems]
        if answer is not None:
            answers.append(answer)
    if problems:
        raise SurveyError(problems)
    if not answers:
        raise SurveyError([f"{source}:2: (row): no answers after the header"])
    return answers


def _answer(row: Mapping[str, str]) -> tuple[Answer | None, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    role = row["respondent_role"].lower()
    if role not in ROLES:
        problems.append(("respondent_role", f"must be 'business' or 'it', got {row['respondent_role']!r}"))
    criterion = CRITERIA_BY_ID.get(row["criterion"].lower())
    if criterion is None:
        problems.append(("criterion", f"unknown criterion {row['criterion']!r} (one of: {', '.join(CRITERIA_BY_ID)})"))
    elif row["attribute"].lower() not in criterion.attributes:
        problems.append(
            (
                "attribute",
                f"{row['attribute']!r} is not an attribute of {criterion.id} "
                f"(one of: {', '.join(criterion.attributes)})",
            )
        )
    try:
        score = float(row["score"])
    except ValueError:
        score = math.nan
    if not 1 <= score <= 5:  # NaN fails this too
        problems.append(("score", f"must be a number from 1 to 5, got {row['score']!r}"))
    if problems:
        return None, problems
    return Answer(role, row["criterion"].lower(), row["attribute"].lower(), score, row.get("respondent", "")), []


def load_survey(path: Path) -> list[Answer]:
    """Read a survey CSV file (UTF-8, optional BOM)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SurveyError([f"{path}:0: (file): cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise SurveyError([f"{path}:0: (file): not UTF-8 text: {exc.reason}"]) from None
    return parse_survey(text, str(path))


def role_means(answers: Iterable[Answer]) -> dict[tuple[str, str], dict[str, float]]:
    """(criterion, attribute) -> role -> mean score of that role's respondents."""
    sums: dict[tuple[str, str], dict[str, list[float]]] = {}
    for a in answers:
        sums.setdefault((a.criterion, a.attribute), {}).setdefault(a.role, []).append(a.score)
    return {key: {role: sum(v) / len(v) for role, v in by_role.items()} for key, by_role in sums.items()}
