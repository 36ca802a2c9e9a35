"""The docs page in a real browser with no network beyond loopback (issue 23): its assets
come from the service, so it shows every operation offline. Headless Chromium comes from
Debian's `chromium` package, which `make test` installs when it is missing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import engine as write_path
from service.settings import PROJECT_ROOT
from tests.conftest import FIXTURES, loaded_database
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
