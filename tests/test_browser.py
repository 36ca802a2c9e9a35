"""The docs page and the landing page in a real browser with no network beyond loopback
(issue 23): their assets come from the service, so they show what they should offline.
Headless Chromium comes from Debian's `chromium` package, which `make test` installs when it
is missing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service import engine as write_path
from service.settings import PROJECT_ROOT
from tests.conftest import FIXTURES, loaded_database
from tests.pagereading import read_page
from tests.test_reliability import Served

OFFLINE = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
"""Chromium's resolver rules: every host name but loopback fails to resolve."""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "headless Chromium is missing: `make test` installs Debian's chromium"
    return found


def browse(url: str, *extra: str) -> str:
    """The page's DOM once its scripts have run (up to 15 s of virtual time)."""
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",  # the suite runs as root in CI
            "--disable-gpu",
            "--no-first-run",
            f"--host-resolver-rules={OFFLINE}",
            "--virtual-time-budget=15000",
            "--window-size=1280,2000",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def served(server_url: str) -> Iterator[Served]:
    """A served instance on a database of its own: the connections it held while closing
    must not be counted by test_reliability's shutdown test."""
    with loaded_database(server_url, "browser", lambda e: write_path.load(e, FIXTURES)) as url:
        server = Served(url)
        try:
            yield server
        finally:
            server.close()


def test_the_docs_page_shows_every_operation_offline(served: Served, tmp_path: Path) -> None:
    dom = browse(served.base + "/docs", "--dump-dom")
    contract = json.loads((PROJECT_ROOT / "openapi" / "v1.json").read_text("utf-8"))
    shown = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert shown == set(contract["paths"]), dom[-2000:]
    screenshot = tmp_path / "docs.png"
    browse(served.base + "/docs", f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000


def api(served: Served, path: str, **params: str) -> list[dict[str, Any]]:
    """Every item of an API list, as a client reads it."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "200", **({"cursor": cursor} if cursor else {})}
        page = httpx.get(served.base + path, params=query, timeout=10).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_the_landing_page_shows_the_apis_figures_offline(served: Served, tmp_path: Path) -> None:
    """The page as Chromium renders it, with no network but loopback: the figures it shows
    are the API's, each disputed figure with every source's number, the timeline in order."""
    shown = read_page(browse(served.base + "/", "--dump-dom"))
    (crisis,) = api(served, "/v1/crises")
    figures = {
        fact["id"]: fact["figure"]["count"]
        for path in ("/v1/casualties", "/v1/arrests", "/v1/deployments")
        for fact in api(served, path, crisis=crisis["id"])
        if fact["figure"] is not None
    }
    assert figures and {f: n for f, n in shown.figures.items() if f in figures} == figures
    disputes = {
        d["key"]: [(v["fact_id"], v["figure"]["count"]) for v in d["values"]]
        for d in api(served, "/v1/disputes", crisis=crisis["id"])
    }
    assert disputes and shown.disputes == disputes
    placed = api(served, "/v1/timeline", crisis=crisis["id"], undated="true")
    timeline = [fact["id"] for fact in placed]
    assert timeline and shown.timeline == timeline
    screenshot = tmp_path / "landing.png"
    browse(served.base + "/", f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000
