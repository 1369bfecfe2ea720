"""Load a catalog folder: parse every YAML file, validate it, cross-check the whole, merge."""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from base.directory import Directory
from pipeline.catalog.catalog import Catalog
from pipeline.catalog.errors import CatalogError, CatalogIssue
from pipeline.catalog.identity import exact_rules
from pipeline.catalog.model import (
    Application,
    CatalogDocument,
    CatalogSettings,
    Initiative,
    Investment,
    Objective,
)
from pipeline.catalog.yamlfile import Loc, YamlDocument, parse_yaml

CATALOG_SUFFIXES = (".yaml", ".yml")
# YAML files of a catalog folder that are not catalog files: the interventions (pipeline/catalog/interventions.py).
INTERVENTIONS_FILES = ("interventions.yaml", "interventions.yml")
_INVESTMENT_DEFAULTS = ("tolerance", "low_days", "min_coverage")
_SECTIONS = "a catalog file holds applications:, objectives:, investments: or settings:"


def catalog_files(path: Path) -> list[Path]:
    """The catalog files of a folder (top level only, sorted by name), or the file itself."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CatalogError([CatalogIssue(str(path), 0, "(folder)", "no such catalog folder or file")])
    try:
        files = sorted(
            child
            for child in path.iterdir()
            if child.suffix.lower() in CATALOG_SUFFIXES
            and child.is_file()
            and not child.name.startswith(".")
            and child.name.lower() not in INTERVENTIONS_FILES
        )
    except OSError as exc:  # unreadable, or removed since is_dir(): a catalog problem, not a crash
        raise CatalogError([CatalogIssue(str(path), 0, "(folder)", f"cannot read: {exc.strerror or exc}")]) from exc
    if not files:
        raise CatalogError([CatalogIssue(str(path), 0, "(folder)", "no catalog files (*.yaml, *.yml) in this folder")])
    return files


def load_catalog(path: Path, directory: Directory | None = None) -> Catalog:
    """Load and check the catalog in a folder (every *.yaml/*.yml merged) or one file.

    Raises CatalogError listing every error as `file:line: field: message`; warnings (an unknown
    department, an application without match rules...) are kept in `Catalog.warnings`.
    """
    return parse_catalog(read_sources(catalog_files(path)), directory)


def read_sources(files: Iterable[Path]) -> list[tuple[Path, str]]:
    """(path, text) of each file; raises CatalogError naming every file that cannot be read or is not UTF-8."""
    sources: list[tuple[Path, str]] = []
    issues: list[CatalogIssue] = []
    for file in files:
        try:
            sources.append((file, file.read_text(encoding="utf-8-sig")))
        except OSError as exc:
            issues.append(CatalogIssue(str(file), 0, "(file)", f"cannot read: {exc.strerror or exc}"))
        except UnicodeDecodeError as exc:
            issues.append(CatalogIssue(str(file), 0, "(file)", f"not UTF-8 text: {exc.reason}"))
    if issues:
        raise CatalogError(issues)
    return sources


def parse_catalog(sources: Sequence[tuple[Path, str]], directory: Directory | None = None) -> Catalog:
    """Build a catalog from (path, YAML text) pairs; the path is only used to name errors."""
    issues: list[CatalogIssue] = []
    parsed: list[_Parsed] = []
    for path, text in sources:
        doc, syntax = parse_yaml(path, text)
        issues += syntax
        if doc is None:
            continue
        if doc.data is None:
            # An editor's truncated save or a blanked file must not pass as a catalog with nothing in it.
            issues.append(
                CatalogIssue(str(path), 0, "(file)", f"the file is empty (only comments or blank lines); {_SECTIONS}")
            )
            continue
        if not isinstance(doc.data, dict):
            issues.append(doc.issue((), f"a catalog file is a mapping; {_SECTIONS}"))
            continue
        try:
            model = CatalogDocument.model_validate(doc.data)
        except ValidationError as exc:
            issues += validation_issues(doc, exc)
            continue
        if not (model.applications or model.objectives or model.investments or model.settings is not None):
            issues.append(CatalogIssue(str(path), 0, "(file)", f"the file holds no catalog content; {_SECTIONS}"))
            continue
        parsed.append(_Parsed(doc, model))
    if issues:
        # Cross-checks on a partial catalog would report ids as unknown that only failed to parse.
        raise CatalogError(_sorted(issues))
    issues = _cross_check(parsed, directory)
    errors = [issue for issue in issues if issue.severity == "error"]
    if errors:
        raise CatalogError(_sorted(errors))
    settings, setting_issues = _merge_settings(parsed)
    if setting_issues:
        raise CatalogError(setting_issues)
    if not any(_investments(parsed)):
        # Adoption is measured per investment: without one the pipeline would compute nothing and the
        # exporter keep serving the last figures, so this is an error, not a quiet empty catalog.
        raise CatalogError([CatalogIssue(_where(sources), 0, "(catalog)", "the catalog holds no investments")])
    return Catalog(
        applications={app.id: _with_app_defaults(app, settings) for p in parsed for app in p.model.applications},
        objectives=[_with_objective_defaults(obj, settings) for p in parsed for obj in p.model.objectives],
        orphan_investments=[_with_inv_defaults(inv, settings) for p in parsed for inv in p.model.investments],
        settings=settings,
        directory=directory,
        files=tuple(p.doc.path for p in parsed),
        warnings=tuple(_sorted(issues)),
    )


@dataclass(frozen=True)
class _Parsed:
    doc: YamlDocument
    model: CatalogDocument


@dataclass(frozen=True)
class _Where:
    doc: YamlDocument
    loc: Loc

    def issue(self, sub: Loc, message: str, severity: str = "error") -> CatalogIssue:
        return self.doc.issue((*self.loc, *sub), message, severity)

    def describe(self) -> str:
        return f"{self.doc.path}:{self.doc.line_of(self.loc)}"


def _where(sources: Sequence[tuple[Path, str]]) -> str:
    """The catalog as one place to name: its file, or the folder of its files."""
    folders = {path.parent for path, _ in sources}
    return str(sources[0][0]) if len(sources) == 1 or len(folders) != 1 else str(folders.pop())


def _sorted(issues: Iterable[CatalogIssue]) -> list[CatalogIssue]:
    return sorted(issues, key=lambda issue: (issue.file, issue.line))


# --- pydantic errors -> readable messages -------------------------------------------------------------------


def validation_issues(
    doc: YamlDocument, exc: ValidationError, root: type[BaseModel] = CatalogDocument
) -> list[CatalogIssue]:
    """Each error of validating `doc` against the model `root`, located at its line, in words."""
    return [doc.issue(err["loc"], _message(err, root)) for err in exc.errors()]


def _message(err: ErrorDetails, root: type[BaseModel]) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return _unknown_field(err["loc"], root)
    message = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if isinstance(value, str | int | float | date) and not isinstance(value, bool):
        message += f" (got {value!r})" if isinstance(value, str) else f" (got {value})"
    return message


def _unknown_field(loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    model = _model_at(loc[:-1], root)
    if model is None or not isinstance(loc[-1], str):
        return "unknown field"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown field (did you mean {close[0]!r}?)"
    return f"unknown field; expected one of: {', '.join(allowed)}"


def _model_at(loc: Sequence[int | str], root: type[BaseModel]) -> type[BaseModel] | None:
    """The model class that validates the value at `loc` (to list its allowed fields)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, str):
            if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
                return None
            current = current.model_fields[part].annotation
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


# --- cross-checks over the whole catalog ------------------------------------------------------------


def _applications(parsed: Sequence[_Parsed]) -> Iterator[tuple[Application, _Where]]:
    for p in parsed:
        for i, app in enumerate(p.model.applications):
            yield app, _Where(p.doc, ("applications", i))


def _objectives(parsed: Sequence[_Parsed]) -> Iterator[tuple[Objective, _Where]]:
    for p in parsed:
        for i, obj in enumerate(p.model.objectives):
            yield obj, _Where(p.doc, ("objectives", i))


def _initiatives(parsed: Sequence[_Parsed]) -> Iterator[tuple[Initiative, _Where]]:
    for obj, where in _objectives(parsed):
        for j, ini in enumerate(obj.initiatives):
            yield ini, _Where(where.doc, (*where.loc, "initiatives", j))


def _investments(parsed: Sequence[_Parsed]) -> Iterator[tuple[Investment, _Where]]:
    for ini, where in _initiatives(parsed):
        for k, inv in enumerate(ini.investments):
            yield inv, _Where(where.doc, (*where.loc, "investments", k))
    for p in parsed:
        for i, inv in enumerate(p.model.investments):
            yield inv, _Where(p.doc, ("investments", i))


def hint(value: str, known: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the known value closest to a misspelt one, else the empty string."""
    close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unique(kind: str, items: Iterable[tuple[str, _Where]], issues: list[CatalogIssue]) -> dict[str, _Where]:
    seen: dict[str, _Where] = {}
    for item_id, where in items:
        if item_id in seen:
            issues.append(
                where.issue(("id",), f"duplicate {kind} id {item_id!r} (first defined at {seen[item_id].describe()})")
            )
        else:
            seen[item_id] = where
    return seen


def _cross_check(parsed: Sequence[_Parsed], directory: Directory | None) -> list[CatalogIssue]:
    issues: list[CatalogIssue] = []
    apps = {app.id: app for app, _ in _applications(parsed)}
    _unique("application", ((app.id, w) for app, w in _applications(parsed)), issues)
    _unique("objective", ((obj.id, w) for obj, w in _objectives(parsed)), issues)
    initiatives = _unique("initiative", ((ini.id, w) for ini, w in _initiatives(parsed)), issues)
    _unique("investment", ((inv.id, w) for inv, w in _investments(parsed)), issues)

    exact_owner: dict[str, tuple[str, _Where, Loc]] = {}
    for app, where in _applications(parsed):
        if app.replaces is not None and app.replaces not in apps:
            issues.append(where.issue(("replaces",), f"unknown application {app.replaces!r}{hint(app.replaces, apps)}"))
        elif app.replaces == app.id:
            issues.append(where.issue(("replaces",), "an application cannot replace itself"))
        issues += _interchangeable_issues(app, where, apps)
        if app.match.empty:
            issues.append(
                where.issue(("match",), "no match rules: this application can never be recognised", "warning")
            )
        for key, field_name, index in exact_rules(app.match):
            sub: Loc = ("match", field_name, index)
            owner = exact_owner.setdefault(key, (app.id, where, sub))
            if owner[0] != app.id:
                other = owner[1].doc.line_of((*owner[1].loc, *owner[2]))
                issues.append(
                    where.issue(
                        sub,
                        f"{key!r} is also an exact rule of application {owner[0]!r} "
                        f"({owner[1].doc.path}:{other}): an identifier must name one application",
                    )
                )

    for inv, where in _investments(parsed):
        for j, app_id in enumerate(inv.applications):
            if app_id not in apps:
                issues.append(where.issue(("applications", j), f"unknown application {app_id!r}{hint(app_id, apps)}"))
            elif not apps[app_id].sanctioned:
                issues.append(where.issue(("applications", j), f"application {app_id!r} is not sanctioned", "warning"))
        if directory is not None:
            known = set(directory.departments)
            for j, department in enumerate(inv.target_departments or []):
                if department not in known:
                    issues.append(
                        where.issue(
                            ("target_departments", j),
                            f"department {department!r} is not in the directory{hint(department, known)}",
                            "warning",
                        )
                    )

    graph: dict[str, list[str]] = {}
    for ini, where in _initiatives(parsed):
        graph.setdefault(ini.id, [])
        for j, dep in enumerate(ini.depends_on):
            if dep == ini.id:
                issues.append(where.issue(("depends_on", j), "an initiative cannot depend on itself"))
            elif dep not in initiatives:
                issues.append(where.issue(("depends_on", j), f"unknown initiative {dep!r}{hint(dep, initiatives)}"))
            else:
                graph[ini.id].append(dep)
    cycle = _find_cycle(graph)
    if cycle:
        issues.append(initiatives[cycle[0]].issue(("depends_on",), f"dependency cycle: {' -> '.join(cycle)}"))
    return issues


def _interchangeable_issues(app: Application, where: _Where, apps: dict[str, Application]) -> list[CatalogIssue]:
    """`interchangeable_with` names other known applications; an unsanctioned one is shadow IT (warning)."""
    issues = []
    for j, other in enumerate(app.interchangeable_with):
        sub: Loc = ("interchangeable_with", j)
        if other == app.id:
            issues.append(where.issue(sub, "an application cannot be interchangeable with itself"))
        elif other not in apps:
            issues.append(where.issue(sub, f"unknown application {other!r}{hint(other, apps)}"))
        elif not (app.sanctioned and apps[other].sanctioned):
            unsanctioned = app.id if not app.sanctioned else other
            message = f"{unsanctioned!r} is not sanctioned: it is shadow IT, never proposed for consolidation"
            issues.append(where.issue(sub, message, "warning"))
    return issues


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One dependency cycle as [a, b, ..., a], or None (iterative DFS, graph order)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start, deps in graph.items():
        if start in state:
            continue
        path: list[str] = [start]
        stack: list[Iterator[str]] = [iter(deps)]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph.get(nxt, [])))
    return None


# --- merge ------------------------------------------------------------------------------------------


def _merge_settings(parsed: Sequence[_Parsed]) -> tuple[CatalogSettings, list[CatalogIssue]]:
    values: dict[str, tuple[Any, YamlDocument]] = {}
    issues: list[CatalogIssue] = []
    for p in parsed:
        if p.model.settings is None:
            continue
        for name in sorted(p.model.settings.model_fields_set):
            value = getattr(p.model.settings, name)
            if name in values and values[name][0] != value:
                first, line = values[name][1], values[name][1].line_of(("settings", name))
                message = f"conflicts with {values[name][0]!r} set at {first.path}:{line}"
                issues.append(p.doc.issue(("settings", name), message))
            values.setdefault(name, (value, p.doc))
    return CatalogSettings(**{name: value for name, (value, _) in values.items()}), issues


def _with_app_defaults(app: Application, settings: CatalogSettings) -> Application:
    if "min_minutes" in app.model_fields_set:
        return app
    return app.model_copy(update={"min_minutes": settings.min_minutes})


def _with_inv_defaults(inv: Investment, settings: CatalogSettings) -> Investment:
    update = {name: getattr(settings, name) for name in _INVESTMENT_DEFAULTS if name not in inv.model_fields_set}
    return inv.model_copy(update=update) if update else inv


def _with_objective_defaults(obj: Objective, settings: CatalogSettings) -> Objective:
    initiatives = [
        ini.model_copy(update={"investments": [_with_inv_defaults(inv, settings) for inv in ini.investments]})
        for ini in obj.initiatives
    ]
    return obj.model_copy(update={"initiatives": initiatives})
