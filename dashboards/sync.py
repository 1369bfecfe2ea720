"""Push the folder, the Prometheus datasource and the dashboards to a running Grafana, idempotently.

Each object is read first and written only when missing or different, so a second push of the
same build changes nothing (no new dashboard versions, no duplicate folders or datasources).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypeVar

from base.errors import AlignmonError

# A grafana_client.GrafanaApi; typed loosely because grafana-client's methods carry no annotations.
GrafanaApi = Any
Action = Literal["created", "updated", "unchanged", "read-only"]
T = TypeVar("T")

# Fields Grafana adds to a stored dashboard; they are not part of what alignmon builds.
_SERVER_FIELDS = ("id", "version")
# Datasource fields alignmon sets; the rest (ids, secure fields, defaults) is Grafana's business.
_DATASOURCE_FIELDS = ("name", "type", "access", "url", "isDefault", "jsonData")


class Change(NamedTuple):
    """What a push did to one Grafana object."""

    kind: Literal["folder", "datasource", "dashboard"]
    uid: str
    action: Action


def connect(url: str, token: str | None, timeout_s: float = 10.0) -> GrafanaApi:
    """A grafana-client API for `url`, authenticated with a service-account token (or user:pass in the URL)."""
    from grafana_client.api import GrafanaApi as Api  # noqa: PLC0415 - only `push` needs grafana-client

    return Api.from_url(url, credential=token, timeout=timeout_s)


def push(
    api: GrafanaApi,
    dashboards: Sequence[Mapping[str, Any]],
    *,
    folder_uid: str,
    folder_title: str,
    datasource: Mapping[str, Any] | None,
) -> list[Change]:
    """Upsert the folder, the datasource (unless None) and every dashboard into the folder."""
    _call(lambda: api.client.GET("/health"), "check Grafana's health")
    changes = [_folder(api, folder_uid, folder_title)]
    if datasource is not None:
        changes.append(_datasource(api, datasource))
    changes += [_dashboard(api, d, folder_uid) for d in dashboards]
    return changes


def _folder(api: GrafanaApi, uid: str, title: str) -> Change:
    existing = _get(lambda: api.folder.get_folder(uid), f"read folder {uid}")
    if existing is None:
        _call(lambda: api.folder.create_folder(title, uid=uid), f"create folder {uid}")
        return Change("folder", uid, "created")
    if existing.get("title") != title:
        _call(lambda: api.folder.update_folder(uid, title=title, overwrite=True), f"rename folder {uid}")
        return Change("folder", uid, "updated")
    return Change("folder", uid, "unchanged")


def _datasource(api: GrafanaApi, wanted: Mapping[str, Any]) -> Change:
    uid = str(wanted["uid"])
    existing = _get(lambda: api.datasource.get_datasource_by_uid(uid), f"read datasource {uid}")
    if existing is None:
        _call(lambda: api.datasource.create_datasource(dict(wanted)), f"create datasource {uid}")
        return Change("datasource", uid, "created")
    if all(_contains(existing.get(k), wanted.get(k)) for k in _DATASOURCE_FIELDS if k in wanted):
        return Change("datasource", uid, "unchanged")
    if existing.get("readOnly"):
        # Provisioned from a file: Grafana refuses API edits, and the file is the source of truth there.
        return Change("datasource", uid, "read-only")
    _call(lambda: api.datasource.update_datasource_by_uid(uid, dict(wanted)), f"update datasource {uid}")
    return Change("datasource", uid, "updated")


def _dashboard(api: GrafanaApi, dashboard: Mapping[str, Any], folder_uid: str) -> Change:
    uid = str(dashboard["uid"])
    existing = _get(lambda: api.dashboard.get_dashboard(uid), f"read dashboard {uid}")
    if existing is not None:
        stored = {k: v for k, v in existing.get("dashboard", {}).items() if k not in _SERVER_FIELDS}
        wanted = {k: v for k, v in dashboard.items() if k not in _SERVER_FIELDS}
        if stored == wanted and existing.get("meta", {}).get("folderUid") == folder_uid:
            return Change("dashboard", uid, "unchanged")
    payload = {
        "dashboard": {**dashboard, "id": None},
        "folderUid": folder_uid,
        "overwrite": True,
        "message": "alignmon dashboards push",
    }
    _call(lambda: api.dashboard.update_dashboard(payload), f"save dashboard {uid}")
    return Change("dashboard", uid, "created" if existing is None else "updated")


def _contains(have: Any, want: Any) -> bool:
    """`have` holds everything in `want` (dicts compared key by key, so Grafana's extra keys do not count)."""
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(_contains(have.get(k), v) for k, v in want.items())
    return bool(have == want)


def _get(read: Callable[[], T], what: str) -> T | None:
    """The object, or None when Grafana answers 404."""
    return _call(read, what, missing_ok=True)


def _call(operation: Callable[[], T], what: str, *, missing_ok: bool = False) -> T | None:
    """Run one grafana-client call; its errors become AlignmonErrors that say what failed and why."""
    from grafana_client.client import GrafanaException  # noqa: PLC0415

    try:
        return operation()
    except GrafanaException as exc:
        if missing_ok and exc.status_code == 404:
            return None
        hint = _HINTS.get(exc.status_code, "")
        raise AlignmonError(f"cannot {what}: Grafana answered {exc.status_code}: {exc.message}{hint}") from exc
    except OSError as exc:
        raise AlignmonError(f"cannot {what}: Grafana is unreachable ({exc})") from exc


_HINTS = {
    401: " (check the token: a Grafana service-account token, or user:password in the URL)",
    403: " (the token's role may not do this: folders and datasources need the Admin role)",
}
