"""`alignmon dashboards push` through grafana-client against an HTTP test double of Grafana's API.

The double implements the endpoints grafana-client calls (health, folders, datasources, dashboards),
answers like Grafana (404 for missing objects, 409 for duplicates, 401 for a bad token), checks the
payloads and records every call, so the tests can assert what a push did and what it did not do.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from alignmon.cli import main
from base.errors import AlignmonError
from dashboards import datasource
from dashboards.sync import Change, connect, push

TOKEN = "glsa_test_token"
FOLDER = "alignmon"


class FakeGrafana:
    """Grafana's HTTP API, as far as grafana-client's folder, datasource and dashboard calls go."""

    def __init__(self, server: HTTPServer) -> None:
        self.calls: list[tuple[str, str]] = []
        self.bodies: list[Any] = []
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.next_id = 1
        self.url = server.url_for("").rstrip("/")
        server.expect_request(re.compile("/.*")).respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        path = request.full_path.rstrip("?")
        body = json.loads(request.data) if request.data else None
        self.calls.append((request.method, path))
        self.bodies.append(body)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            status, answer = 401, {"message": "invalid API key"}
        else:
            status, answer = self.route(request.method, path, body)
        return Response(json.dumps(answer), status, content_type="application/json")

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.split("?", maxsplit=1)[0].strip("/").split("/")
        match (method, parts):
            case ("GET", ["api", "health"]):
                return 200, {"database": "ok", "version": "12.1.0"}
            case ("GET", ["api", "folders", uid]):
                return (200, self.folders[uid]) if uid in self.folders else (404, {"message": "folder not found"})
            case ("POST", ["api", "folders"]):
                assert set(body) <= {"title", "uid", "parentUid"} and body["title"], body
                if body.get("uid") in self.folders:
                    return 409, {"message": "a folder with the same uid already exists"}
                folder = {"id": self._id(), "uid": body["uid"], "title": body["title"], "version": 1}
                self.folders[body["uid"]] = folder
                return 200, folder
            case ("PUT", ["api", "folders", uid]) if uid in self.folders:
                self.folders[uid] = {**self.folders[uid], "title": body["title"]}
                return 200, self.folders[uid]
            case ("GET", ["api", "datasources", "uid", uid]):
                found = self.datasources.get(uid)
                return (200, found) if found else (404, {"message": "Data source not found"})
            case ("POST", ["api", "datasources"]):
                assert {"name", "type", "url", "access", "uid"} <= set(body), body
                if any(d["name"] == body["name"] for d in self.datasources.values()):
                    return 409, {"message": "data source with the same name already exists"}
                self.datasources[body["uid"]] = {"id": self._id(), "readOnly": False, "basicAuth": False, **body}
                return 200, {"datasource": self.datasources[body["uid"]], "message": "Datasource added"}
            case ("PUT", ["api", "datasources", "uid", uid]) if uid in self.datasources:
                if self.datasources[uid]["readOnly"]:
                    return 403, {"message": "Cannot update read-only data source"}
                self.datasources[uid] = {**self.datasources[uid], **body}
                return 200, {"datasource": self.datasources[uid], "message": "Datasource updated"}
            case ("GET", ["api", "dashboards", "uid", uid]):
                found = self.dashboards.get(uid)
                return (200, copy.deepcopy(found)) if found else (404, {"message": "Dashboard not found"})
            case ("POST", ["api", "dashboards", "db"]):
                return self._save_dashboard(body)
        return 404, {"message": f"no route {method} {path}"}

    def _save_dashboard(self, body: dict[str, Any]) -> tuple[int, Any]:
        dashboard = body["dashboard"]
        assert dashboard.get("uid") and dashboard.get("title"), "a dashboard needs uid and title"
        assert body.get("overwrite") is True
        if body.get("folderUid") not in self.folders:
            return 400, {"message": "folder not found"}
        old = self.dashboards.get(dashboard["uid"])
        version = old["dashboard"]["version"] + 1 if old else 1
        dash_id = old["dashboard"]["id"] if old else self._id()
        stored = {**dashboard, "id": dash_id, "version": version}
        self.dashboards[dashboard["uid"]] = {
            "dashboard": stored,
            "meta": {"folderUid": body["folderUid"], "slug": dashboard["uid"], "provisioned": False},
        }
        return 200, {"id": dash_id, "uid": dashboard["uid"], "status": "success", "version": version}

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] != "GET"]


@pytest.fixture
def grafana(httpserver: HTTPServer) -> Iterator[FakeGrafana]:
    yield FakeGrafana(httpserver)
    httpserver.check()  # a payload check that failed inside the double fails the test


def _push(grafana: FakeGrafana, dashboards: list[dict[str, Any]], token: str = TOKEN) -> list[Change]:
    return push(
        connect(grafana.url, token),
        dashboards,
        folder_uid=FOLDER,
        folder_title=FOLDER,
        datasource=datasource.definition("http://prometheus:9090"),
    )


def test_first_push_creates_folder_datasource_and_dashboards(
    grafana: FakeGrafana, built: dict[str, dict[str, Any]]
) -> None:
    changes = _push(grafana, list(built.values()))
    assert changes == [
        Change("folder", "alignmon", "created"),
        Change("datasource", "alignmon-prometheus", "created"),
        Change("dashboard", "alignmon-portfolio", "created"),
        Change("dashboard", "alignmon-investment", "created"),
        Change("dashboard", "alignmon-applications", "created"),
        Change("dashboard", "alignmon-pipeline", "created"),
        Change("dashboard", "alignmon-collectors", "created"),
    ]
    assert grafana.calls[0] == ("GET", "/api/health")
    assert grafana.writes() == [
        ("POST", "/api/folders"),
        ("POST", "/api/datasources"),
        *[("POST", "/api/dashboards/db")] * 5,
    ]
    assert grafana.folders["alignmon"]["title"] == "alignmon"
    source = grafana.datasources["alignmon-prometheus"]
    assert (source["type"], source["url"], source["jsonData"]) == (
        "prometheus",
        "http://prometheus:9090",
        {"timeInterval": "30s"},
    )
    for uid, stored in grafana.dashboards.items():
        assert stored["meta"]["folderUid"] == "alignmon"
        sent = {k: v for k, v in stored["dashboard"].items() if k not in ("id", "version")}
        assert sent == built[f"{uid}.json"]
    posted = [b for (m, p), b in zip(grafana.calls, grafana.bodies, strict=True) if p == "/api/dashboards/db"]
    assert all(b["dashboard"]["id"] is None and b["overwrite"] is True for b in posted)


def test_second_push_changes_nothing(grafana: FakeGrafana, built: dict[str, dict[str, Any]]) -> None:
    _push(grafana, list(built.values()))
    writes, versions = len(grafana.writes()), {u: d["dashboard"]["version"] for u, d in grafana.dashboards.items()}
    changes = _push(grafana, list(built.values()))
    assert {c.action for c in changes} == {"unchanged"} and len(changes) == 7
    assert len(grafana.writes()) == writes
    assert {u: d["dashboard"]["version"] for u, d in grafana.dashboards.items()} == versions
    assert len(grafana.folders) == 1 and len(grafana.datasources) == 1


def test_a_changed_dashboard_is_updated_alone(grafana: FakeGrafana, built: dict[str, dict[str, Any]]) -> None:
    _push(grafana, list(built.values()))
    changed = copy.deepcopy(list(built.values()))
    changed[3]["description"] = "edited"
    changes = _push(grafana, changed)
    assert [c for c in changes if c.action != "unchanged"] == [Change("dashboard", "alignmon-pipeline", "updated")]
    assert grafana.dashboards["alignmon-pipeline"]["dashboard"]["version"] == 2
    assert grafana.dashboards["alignmon-portfolio"]["dashboard"]["version"] == 1


def test_a_dashboard_moved_to_another_folder_is_moved_back(
    grafana: FakeGrafana, built: dict[str, dict[str, Any]]
) -> None:
    _push(grafana, list(built.values()))
    grafana.dashboards["alignmon-portfolio"]["meta"]["folderUid"] = "elsewhere"
    changes = _push(grafana, list(built.values()))
    assert Change("dashboard", "alignmon-portfolio", "updated") in changes
    assert grafana.dashboards["alignmon-portfolio"]["meta"]["folderUid"] == "alignmon"


def test_datasource_with_another_url_is_updated(grafana: FakeGrafana, built: dict[str, dict[str, Any]]) -> None:
    _push(grafana, [])
    grafana.datasources["alignmon-prometheus"]["url"] = "http://old:9090"
    assert Change("datasource", "alignmon-prometheus", "updated") in _push(grafana, [])
    assert ("PUT", "/api/datasources/uid/alignmon-prometheus") in grafana.calls
    assert grafana.datasources["alignmon-prometheus"]["url"] == "http://prometheus:9090"


def test_provisioned_datasource_is_left_alone(grafana: FakeGrafana) -> None:
    grafana.datasources["alignmon-prometheus"] = {
        **datasource.definition("http://other:9090"),
        "id": 1,
        "readOnly": True,
    }
    assert Change("datasource", "alignmon-prometheus", "read-only") in _push(grafana, [])
    assert not [c for c in grafana.writes() if "datasources" in c[1]]


def test_renamed_folder_gets_its_title_back(grafana: FakeGrafana) -> None:
    grafana.folders["alignmon"] = {"id": 1, "uid": "alignmon", "title": "Old name", "version": 3}
    assert _push(grafana, [])[0] == Change("folder", "alignmon", "updated")
    assert grafana.folders["alignmon"]["title"] == "alignmon"


def test_bad_token_is_a_clear_error(grafana: FakeGrafana, built: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(AlignmonError, match=r"cannot check Grafana's health: Grafana answered 401.*token"):
        _push(grafana, list(built.values()), token="wrong")
    assert grafana.writes() == []


def test_cli_push_reads_the_token_from_the_environment(
    grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALIGNMON_GRAFANA_TOKEN", TOKEN)
    assert main(["dashboards", "push", "--url", grafana.url, "--prometheus-url", "http://prom:9090"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["folder alignmon: created", "datasource alignmon-prometheus: created"]
    assert "dashboard alignmon-pipeline: created" in out
    assert grafana.datasources["alignmon-prometheus"]["url"] == "http://prom:9090"
    assert main(["dashboards", "push", "--url", grafana.url, "--no-datasource"]) == 0
    assert capsys.readouterr().out.count(": unchanged") == 6


def test_cli_push_without_credentials_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ALIGNMON_GRAFANA_TOKEN", raising=False)
    assert main(["dashboards", "push", "--url", "http://127.0.0.1:9"]) == 1
    assert "no Grafana credentials" in capsys.readouterr().err
