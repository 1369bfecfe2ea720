"""Survey CSV parsing: valid answers, and errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignment.survey import Answer, SurveyError, load_survey, parse_survey, role_means


def test_valid_survey_with_optional_columns(tmp_path: Path) -> None:
    path = tmp_path / "answers.csv"
    path.write_text(
        "\ufeffrespondent,respondent_role,criterion,attribute,score,comment\n"
        "cfo,business,governance,steering_committee,3,meets quarterly\n"
        "\n"
        "cio,IT,Governance,steering_committee,4.5,\n",
        encoding="utf-8",
    )
    answers = load_survey(path)
    assert answers == [
        Answer("business", "governance", "steering_committee", 3.0, "cfo"),
        Answer("it", "governance", "steering_committee", 4.5, "cio"),
    ]
    assert role_means(answers) == {("governance", "steering_committee"): {"business": 3.0, "it": 4.5}}


def test_every_bad_field_is_named_with_its_line() -> None:
    text = (
        "respondent_role,criterion,attribute,score\n"
        "manager,governance,steering_committee,3\n"
        "business,governanse,steering_committee,3\n"
        "it,skills,steering_committee,3\n"
        "it,skills,learning,6\n"
        "it,skills,learning,abc\n"
        "it,skills\n"
    )
    with pytest.raises(SurveyError) as err:
        parse_survey(text, "answers.csv")
    assert err.value.problems == [
        "answers.csv:2: respondent_role: must be 'business' or 'it', got 'manager'",
        "answers.csv:3: criterion: unknown criterion 'governanse' (one of: communications, value_measurement, "
        "governance, partnership, scope_architecture, skills)",
        "answers.csv:4: attribute: 'steering_committee' is not an attribute of skills (one of: innovation, "
        "locus_of_power, change_readiness, career_crossover, learning, trust, retention)",
        "answers.csv:5: score: must be a number from 1 to 5, got '6'",
        "answers.csv:6: score: must be a number from 1 to 5, got 'abc'",
        "answers.csv:7: (row): 2 fields, the header has 4",
    ]


def test_header_problems() -> None:
    with pytest.raises(SurveyError) as err:
        parse_survey("role,criterion,attribute,score\n", "s.csv")
    assert err.value.problems == [
        "s.csv:1: respondent_role: missing column",
        "s.csv:1: role: unknown column (allowed: respondent_role, criterion, attribute, score, respondent, comment)",
    ]
    with pytest.raises(SurveyError, match=r"s.csv:1: \(header\): empty file"):
        parse_survey("", "s.csv")
    with pytest.raises(SurveyError, match=r"s.csv:2: \(row\): no answers"):
        parse_survey("respondent_role,criterion,attribute,score\n", "s.csv")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SurveyError, match="cannot read"):
        load_survey(tmp_path / "missing.csv")
