"""Every alignment result for one as-of day, computed from the facts (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alignment.displacement import SwitchShare, displacement
from alignment.emergent import Candidate, emergent
from alignment.facts import Facts
from alignment.maturity import Maturity, maturity, proxies
from alignment.portfolio import Portfolio, initiative_attainments, objective_attainments, portfolio
from alignment.roadmap import InitiativePriority, Item, initiative_ranking, roadmap
from alignment.survey import Answer


@dataclass(frozen=True)
class Assessment:
    """The five-step method's current state, gaps and roadmap as of `facts.as_of`."""

    facts: Facts
    portfolio: Portfolio
    objectives: dict[str, float | None]
    initiatives: dict[str, float | None]
    maturity: Maturity
    roadmap: tuple[Item, ...]
    initiative_ranking: tuple[InitiativePriority, ...]
    displacement: tuple[SwitchShare, ...]
    emergent: tuple[Candidate, ...]


def assess(facts: Facts, answers: Iterable[Answer] = ()) -> Assessment:
    """Compute every alignment result from the facts and optional survey answers."""
    items = roadmap(facts)
    return Assessment(
        facts=facts,
        portfolio=portfolio(facts.strategy, facts.states),
        objectives=objective_attainments(facts.strategy, facts.states),
        initiatives=initiative_attainments(facts.strategy, facts.states),
        maturity=maturity(proxies(facts), answers),
        roadmap=tuple(items),
        initiative_ranking=tuple(initiative_ranking(facts, items)),
        displacement=tuple(displacement(facts)),
        emergent=tuple(emergent(facts)),
    )
