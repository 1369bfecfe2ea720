"""Build dist/alignmon-agent.pyz: `alignmon agent` and only the libraries it imports, one file for the system Python.

`make agent` runs this with the virtualenv's Python. What goes in is worked out, not listed:
- alignmon's own modules: those the entry point (alignmon/zipapp.py) imports, followed through every import
  statement, lazy ones too (so `alignmon agent`'s sources and the importers' readers they call), nothing else;
- libraries: the distributions those modules import, and what they require (markers evaluated for this Python and
  OS, no extras), copied from this virtualenv at its installed versions: the build downloads nothing, and the same
  virtualenv and sources give the same bytes (shiv --reproducible, fixed file modes).
The file holds compiled wheels (pydantic-core), so it runs on this OS and CPU with this Python minor version only;
the entry point checks that before it imports them.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
ENTRY_MODULE = "alignmon.zipapp"
ENTRY_POINT = f"{ENTRY_MODULE}:main"
# The commands' modules are imported by name (alignmon.cli.COMMAND_MODULES); the agent's is the one this file runs.
EXTRA_ROOTS = ("collectors.agent.commands",)
FIRST_PARTY = ("alignmon", "base", "collectors", "pipeline", "metrics", "dashboards", "alignment")
# Libraries imported on some platforms only; elsewhere the source that needs them says so when chosen.
ONLY_ON = {"python-xlib": ("linux",)}  # the x11 source: X11 desktops
SKIPPED_SUFFIXES = (".pyc", ".pyi")
# 2000-01-01: the zip's timestamps when SOURCE_DATE_EPOCH is not set, so two builds of one tree are identical.
DEFAULT_EPOCH = "946684800"
DEFAULT_OUT = ROOT / "dist" / "alignmon-agent.pyz"


class BuildError(Exception):
    """The build cannot go on; the message says why and what to do."""


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The source file of a first-party module or package, or None when there is none."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(source: str, module: str, *, package: bool) -> set[str]:
    """Every module name a source imports, lazy and TYPE_CHECKING imports included (`from a import b`: a and a.b)."""
    found: set[str] = set()
    home = module.split(".") if package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = home[: len(home) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def first_party_closure(roots: Iterable[str], root: Path = ROOT) -> tuple[dict[str, Path], set[str]]:
    """The first-party modules the roots reach (name -> file, parent packages included) and the other top names."""
    modules: dict[str, Path] = {}
    outside: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in modules:
            continue
        top = name.split(".")[0]
        if top not in FIRST_PARTY:
            outside.add(top)
            continue
        path = module_file(name, root)
        if path is None:
            if "." in name and module_file(name.rsplit(".", 1)[0], root) is not None:
                continue  # `from package import name` where name is not a module
            raise BuildError(f"{name} is imported but no {name.replace('.', '/')}.py exists under {root}")
        modules[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:n]) for n in range(1, len(parts))]
        todo += imported_names(path.read_text(encoding="utf-8"), name, package=path.name == "__init__.py")
    return modules, outside - set(sys.stdlib_module_names) - {"__future__"}


def distributions_for(top_names: Iterable[str]) -> list[str]:
    """The installed distributions that provide these top-level import names (an error for one that none does)."""
    providers = metadata.packages_distributions()
    wanted: list[str] = []
    for name in sorted(top_names):
        if name not in providers:
            raise BuildError(f"the agent imports {name}, which no installed distribution provides: pip install it")
        wanted += providers[name]
    return sorted({canonicalize_name(d) for d in wanted})


def requirement_closure(names: Iterable[str], target: str = sys.platform) -> dict[str, metadata.Distribution]:
    """The distributions and everything they require for this Python and OS (no extras), by canonical name."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found or target not in ONLY_ON.get(name, (target,)):
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise BuildError(f"{name} is required by the agent's libraries but not installed: pip install it") from None
        found[name] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return dict(sorted(found.items()))


def copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o755 if os.access(source, os.X_OK) and source.suffix in (".so", ".pyd") else 0o644)


def stage(site: Path, modules: dict[str, Path], dists: dict[str, metadata.Distribution]) -> None:
    """Lay out a site-packages directory: the first-party modules, each distribution's installed files, build info."""
    for path in modules.values():
        copy_file(path, site / path.relative_to(ROOT))
    for name, dist in dists.items():
        files = dist.files
        if files is None:
            raise BuildError(f"{name} {dist.version} has no RECORD of its files: reinstall it with pip")
        for file in files:
            if file.parts[0] == ".." or "__pycache__" in file.parts or file.suffix in SKIPPED_SUFFIXES:
                continue  # scripts in bin/, byte code, type stubs
            copy_file(Path(str(file.locate())), site / Path(*file.parts))
    info = {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "platform": sys.platform,
        "machine": platform.machine(),
        "libraries": {name: dist.version for name, dist in dists.items()},
        "modules": sorted(modules),
    }
    (site / "alignmon" / "zipapp.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


class Built(NamedTuple):
    """What went into a build."""

    modules: list[str]
    libraries: dict[str, str]  # distribution -> version


def build(out: Path) -> Built:
    """Build the file at `out`."""
    if importlib.util.find_spec("shiv") is None:
        raise BuildError("shiv is not installed in this Python's environment: pip install shiv (in alignmon[dev])")
    modules, outside = first_party_closure([ENTRY_MODULE, *EXTRA_ROOTS])
    dists = requirement_closure(distributions_for(outside))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="alignmon-agent-") as tmp:
        site = Path(tmp) / "site-packages"
        stage(site, modules, dists)
        env = {**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH)}
        command = [
            sys.executable, "-m", "shiv", "--site-packages", str(site), "--entry-point", ENTRY_POINT,
            "--output-file", str(out), "--python", "/usr/bin/env python3", "--reproducible",
        ]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BuildError(f"shiv failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return Built(sorted(modules), {name: dist.version for name, dist in dists.items()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the file to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    began = time.monotonic()
    try:
        made = build(args.out)
    except BuildError as exc:
        print(f"build_agent: error: {exc}", file=sys.stderr)
        return 1
    libraries = ", ".join(f"{name} {version}" for name, version in made.libraries.items())
    print(
        f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB, for Python {sys.version_info.major}."
        f"{sys.version_info.minor} on {sys.platform} {platform.machine()}, built in {time.monotonic() - began:.1f} s; "
        f"{len(made.modules)} alignmon modules; {libraries}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
