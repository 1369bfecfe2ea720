"""Application identity: which catalog application a raw identifier (exe, bundle id, path) belongs to.

Precedence, most specific first: exact name or bundle id (on the whole identifier, then on a path's
basename, then on a macOS `.app` folder in the path) > path glob (more literal characters wins) > regex
(catalog order). Matching is case-insensitive, Windows backslashes count as `/`, and `.exe` is optional.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Literal, NamedTuple

from pipeline.catalog.model import Application, MatchRules

Rule = Literal["exact", "basename", "bundle", "path", "regex"]

DEFAULT_CACHE_SIZE = 65_536


class AppMatch(NamedTuple):
    """Which application an identifier matched, by which kind of rule and which pattern."""

    app_id: str
    rule: Rule
    pattern: str


class _Glob(NamedTuple):
    regex: re.Pattern[str]
    literal: int
    app_id: str
    pattern: str


def normalise(raw: str) -> str:
    """The identifier as matched: stripped, with Windows backslashes turned into `/`."""
    return raw.strip().replace("\\", "/")


def exact_key(text: str) -> str:
    """The key exact rules compare on: case-folded, without a trailing `.exe`."""
    key = text.strip().casefold()
    return key[:-4] if key.endswith(".exe") and len(key) > 4 else key


def exact_rules(rules: MatchRules) -> Iterator[tuple[str, str, int]]:
    """Every exact rule of an application as (key, field, index), field being `names` or `bundle_ids`."""
    for index, name in enumerate(rules.names):
        yield exact_key(name), "names", index
    for index, bundle_id in enumerate(rules.bundle_ids):
        yield exact_key(bundle_id), "bundle_ids", index


def compile_glob(pattern: str) -> tuple[re.Pattern[str], int]:
    """A path glob as a case-insensitive regex plus its count of literal characters (its specificity).

    `*` and `?` stay inside one folder, `**` spans folders (`**/` also matches no folder), `[...]` is a class.
    """
    text = normalise(pattern).casefold()
    out: list[str] = []
    literal = 0
    i = 0
    while i < len(text):
        char = text[i]
        if text.startswith("**", i):
            i += 2
            if text.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[" and (end := text.find("]", i + 2)) != -1:
            body = text[i + 1 : end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(char))
            literal += 1
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL), literal


class AppMatcher:
    """Compiled identity rules of a catalog's applications; `match()` is cached per raw string."""

    def __init__(self, applications: Iterable[Application], cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._exact: dict[str, tuple[str, Rule, str]] = {}
        globs: list[tuple[int, int, int, _Glob]] = []
        self._regexes: list[tuple[re.Pattern[str], str, str]] = []
        for order, app in enumerate(applications):
            for name in app.match.names:
                self._exact.setdefault(exact_key(name), (app.id, "exact", name))
            for bundle_id in app.match.bundle_ids:
                self._exact.setdefault(exact_key(bundle_id), (app.id, "bundle", bundle_id))
            for pattern in app.match.paths:
                regex, literal = compile_glob(pattern)
                # Most literal characters first, then the longer pattern, then catalog order.
                globs.append((-literal, -len(pattern), order, _Glob(regex, literal, app.id, pattern)))
            for pattern in app.match.regexes:
                self._regexes.append((re.compile(pattern), app.id, pattern))
        self._globs = [glob for *_, glob in sorted(globs, key=lambda item: item[:3])]
        self._resolve_cached = functools.lru_cache(maxsize=cache_size)(self._resolve)

    def match(self, raw: str) -> str | None:
        """The application id a raw identifier belongs to, or None when no rule matches."""
        found = self._resolve_cached(raw)
        return found.app_id if found is not None else None

    def resolve(self, raw: str) -> AppMatch | None:
        """Like match(), but also says which rule matched (for `alignmon catalog which`)."""
        return self._resolve_cached(raw)

    def cache_info(self) -> functools._CacheInfo:
        """Hits, misses and size of the per-identifier cache."""
        return self._resolve_cached.cache_info()

    def cache_clear(self) -> None:
        self._resolve_cached.cache_clear()

    def _resolve(self, raw: str) -> AppMatch | None:
        path = normalise(raw)
        if not path:
            return None
        found = self._exact.get(exact_key(path))
        if found is not None:
            return AppMatch(*found)
        if "/" in path:
            parts = [part for part in path.split("/") if part]
            if parts:
                found = self._exact.get(exact_key(parts[-1]))
                if found is not None:
                    return AppMatch(found[0], "basename", found[2])
            # A macOS executable path names its bundle folder: /Applications/Slack.app/Contents/MacOS/Slack.
            for part in reversed(parts[:-1]):
                if part.casefold().endswith(".app"):
                    found = self._exact.get(exact_key(part[:-4]))
                    if found is not None:
                        return AppMatch(found[0], "basename", found[2])
        folded = path.casefold()
        for glob in self._globs:
            if glob.regex.match(folded):
                return AppMatch(glob.app_id, "path", glob.pattern)
        for regex, app_id, pattern in self._regexes:
            if regex.search(path):
                return AppMatch(app_id, "regex", pattern)
        return None
