"""Imports point one way: every module's imports are read and checked against the layers below.

The layers are the architecture (README "The pieces", docs/architecture.md): a package may import packages of a
lower layer, never one of its own layer or above. Inside `collectors/` the same holds for its parts. Imports inside
functions and under TYPE_CHECKING count too: a cycle through a lazy import is still a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. The one place the allowed directions are written down.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("base",),  # errors, settings, logging, pseudonyms, the directory parser, the source names
    ("collectors",),  # event contract, record format, sink, policy, gateway, agent, importers, simulator
    ("pipeline",),  # Kafka -> DuckDB, catalog, figures
    ("metrics", "alignment"),  # outputs read the pipeline's tables
    ("dashboards",),  # built against the metrics' names and thresholds
    ("alignmon",),  # the shell: the command, process wiring, the local stack, the demo
)
# Inside collectors/: its top-level modules are shared by the parts; the agent may use the importers' readers.
COLLECTOR_LAYERS: tuple[tuple[str, ...], ...] = (
    ("",),  # collectors/*.py
    ("gateway", "importers", "simulate", "directory"),
    ("agent",),
)


def _rank(layers: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    return {name: n for n, layer in enumerate(layers) for name in layer}


PACKAGES, PARTS = _rank(LAYERS), _rank(COLLECTOR_LAYERS)


def imports_of(source: str, module: str, *, package: bool = False) -> list[str]:
    """Every module name `source` imports; relative ones resolved against `module` (a package's __init__ or not)."""
    found: list[str] = []
    home = module.split(".") if package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = home[: len(home) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.append(target)
            # `from collectors import gateway` imports collectors.gateway: each name may be a module.
            found += [f"{target}.{alias.name}" for alias in node.names]
    return found


def _part(module: str) -> str:
    """The part of collectors a module belongs to: a sub-package's name, or "" for collectors/*.py."""
    names = module.split(".")
    return names[1] if len(names) > 1 and (ROOT / "collectors" / names[1]).is_dir() else ""


def violations(module: str, imported: list[str]) -> list[str]:
    """The imports of `module` that point against the layers, each as 'module -> imported (why)'."""
    bad: list[str] = []
    own = module.split(".", maxsplit=1)[0]
    for target in imported:
        top = target.split(".")[0]
        if top not in PACKAGES or own not in PACKAGES:
            continue  # the standard library or a dependency
        if top != own and PACKAGES[top] >= PACKAGES[own]:
            bad.append(f"{module} -> {target} ({own} may not import {top}: same layer or above)")
        if top == own == "collectors":
            mine, theirs = _part(module), _part(target)
            if mine != theirs and PARTS[theirs] >= PARTS[mine]:
                bad.append(f"{module} -> {target} (collectors.{mine or '*'} may not import collectors.{theirs})")
    return bad


def _modules() -> list[tuple[str, Path, bool]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            names = path.relative_to(ROOT).with_suffix("").parts
            is_init = names[-1] == "__init__"
            found.append((".".join(names[:-1] if is_init else names), path, is_init))
    return found


def test_every_import_points_down_the_layers() -> None:
    modules = _modules()
    assert {m.split(".")[0] for m, _, _ in modules} == set(PACKAGES)  # every package was read
    bad = [
        v
        for module, path, is_init in modules
        for v in violations(module, imports_of(path.read_text(), module, package=is_init))
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("pipeline.service", "from alignment import views", "pipeline may not import alignment"),
        ("metrics.exporter", "def f():\n    import alignmon.process", "metrics may not import alignmon"),
        ("base.settings", "from collectors.pseudonym import key_from", "base may not import collectors"),
        ("metrics.exporter", "from alignment.views import install", "metrics may not import alignment"),
        ("collectors.importers.commands", "from ..agent import uploader", "may not import collectors.agent"),
        ("collectors.record", "from collectors.gateway.sink import Sink", "collectors.* may not import"),
        ("collectors.gateway.service", "from collectors import agent", "may not import collectors.agent"),
    ],
)
def test_a_wrong_import_is_caught(module: str, source: str, expected: str) -> None:
    found = violations(module, imports_of(source, module))
    assert found and all(expected in v for v in found), found


@pytest.mark.parametrize("source", ["import json", "from pipeline.store import Store", "from . import views"])
def test_imports_down_or_within_pass(source: str) -> None:
    assert violations("alignment.reader", imports_of(source, "alignment.reader")) == []


def test_relative_imports_resolve_from_a_module_and_from_a_package() -> None:
    assert imports_of("from ..event import X", "collectors.agent.spans") == ["collectors.event", "collectors.event.X"]
    assert imports_of("from . import spans", "collectors.agent", package=True) == [
        "collectors.agent",
        "collectors.agent.spans",
    ]


def stage_names_rebound(source: str, module: str) -> list[str]:
    """The names of a stage (a top-level package) that `module` binds to a module of another stage: in metrics,
    `from pipeline.figures import collectors` makes `collectors.counts` read as the collectors stage's."""
    own = module.split(".", maxsplit=1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            bound = [(alias.asname or alias.name, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            bound = [(alias.asname, alias.name) for alias in node.names if alias.asname]
        else:
            continue
        found += [
            f"{module}: {name} = {target}"
            for name, target in bound
            if name in PACKAGES and name != target and target.split(".")[0] not in (own, name)
        ]
    return found


def test_no_module_names_a_stage_after_a_module_of_another() -> None:
    bad = [v for module, path, _ in _modules() for v in stage_names_rebound(path.read_text(), module)]
    assert bad == []


@pytest.mark.parametrize(
    ("module", "source", "caught"),
    [
        ("metrics.exporter", "from pipeline.figures import collectors", True),
        ("metrics.exporter", "import pipeline.figures.fleet as collectors", True),
        ("metrics.exporter", "from pipeline.figures import fleet", False),
        ("metrics.exporter", "from collectors import event", False),
        ("dashboards.build", "from dashboards import collectors", False),  # its own stage's module
        ("pipeline.refresh", "from pipeline.figures import metrics", False),
    ],
)
def test_a_stage_name_bound_to_another_stages_module_is_caught(module: str, source: str, caught: bool) -> None:
    assert bool(stage_names_rebound(source, module)) is caught


def test_the_exporter_reads_the_process_stats_without_kafka() -> None:
    """metrics imports pipeline.stats, not the consumer: loading the exporter loads no Kafka client."""
    code = "import sys, metrics.exporter; print(sorted(m for m in sys.modules if m.split('.')[0] == 'kafka'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
