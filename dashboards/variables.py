"""Template variables, chained objective -> initiative -> investment -> department.

Each narrows the next through a label_values() query; "All" is the regex `.*`, so the panels
match with `=~` and an investment tied to no initiative (empty labels) still shows under All.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import datasource

ALL = ".*"

OBJECTIVE = "label_values(alignmon_investment_info, objective)"
INITIATIVE = 'label_values(alignmon_investment_info{objective=~"$objective"}, initiative)'
INVESTMENT = 'label_values(alignmon_investment_info{objective=~"$objective", initiative=~"$initiative"}, investment)'
DEPARTMENT = 'label_values(alignmon_department_adoption_ratio{investment=~"$investment"}, department)'
CAPABILITY = "label_values(alignmon_application_active_users, capability)"
APPLICATION = "label_values(alignmon_application_active_users, application)"


def _variable(
    name: str, label: str, query: str, *, multi: bool, include_all: bool, default: str | None = None
) -> sdk.QueryVariable:
    variable = (
        sdk.QueryVariable(name)
        .label(label)
        .datasource(datasource.ref())
        .query(query)
        .definition(query)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(include_all)
    )
    if include_all:
        variable = variable.all_value(ALL)
        default = default or "$__all"
    if default is not None:
        text = "All" if default == "$__all" else default
        variable = variable.current(dm.VariableOption(text=text, value=default, selected=True))
    return variable


def objective() -> sdk.QueryVariable:
    """Business objectives (multi, All)."""
    return _variable("objective", "Objective", OBJECTIVE, multi=True, include_all=True)


def initiative() -> sdk.QueryVariable:
    """Initiatives of the chosen objectives (multi, All)."""
    return _variable("initiative", "Initiative", INITIATIVE, multi=True, include_all=True)


def investment() -> sdk.QueryVariable:
    """One investment of the chosen initiatives (the detail dashboard shows one at a time)."""
    return _variable("investment", "Investment", INVESTMENT, multi=False, include_all=False)


def department() -> sdk.QueryVariable:
    """Target departments of the investment with at least k people (multi, All)."""
    return _variable("department", "Department", DEPARTMENT, multi=True, include_all=True)


def capability() -> sdk.QueryVariable:
    """Application capabilities (multi, All)."""
    return _variable("capability", "Capability", CAPABILITY, multi=True, include_all=True)


def application(name: str, label: str, default: str) -> sdk.QueryVariable:
    """One catalogued application, e.g. a legacy one and its replacement."""
    return _variable(name, label, APPLICATION, multi=False, include_all=False, default=default)
