"""The image's recipe: the package installed as `pip install .` installs it (not editable)
works from any directory, and the Dockerfile runs it as a non-root user with a health check."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from service.database import drop_database
from service.settings import PROJECT_ROOT
from tests.conftest import fresh_database
from tests.test_reliability import free_port
from tests.waiting import until

SHIPPED = ["pyproject.toml", "README.md", "service", "alembic", "fixtures", "openapi"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the package built and installed from a copy of the sources.

    Its dependencies are this environment's, reached through a path file (which does not
    run this environment's own path files, so the editable install stays out of sight):
    building (setuptools, in pip's isolated build environment) and installing take seconds
    instead of downloading every wheel again."""
    root = tmp_path_factory.mktemp("image")
    source = root / "source"
    source.mkdir()
    for name in SHIPPED:
        if (PROJECT_ROOT / name).is_dir():
            shutil.copytree(PROJECT_ROOT / name, source / name, ignore=_caches)
        else:
            shutil.copy(PROJECT_ROOT / name, source / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", str(source)],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(source)  # nothing may be read from the sources any more
    return venv


def _caches(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n in {"__pycache__", ".pytest_cache"}]


@pytest.fixture
def database(server_url: str) -> Iterator[str]:
    url = fresh_database(server_url, "image")
    yield url
    drop_database(server_url, sa.engine.make_url(url).database or "")


def test_the_installed_package_migrates_loads_and_serves_from_any_directory(
    installed: Path, database: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database, "PORT": str(port), "WORKERS": "1"}
    cli = str(installed / "bin" / "crisis-facts")

    def run(*args: str) -> str:
        done = subprocess.run([cli, *args], cwd=tmp_path, env=env, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    python = installed / "bin" / "python"
    where = subprocess.run(
        [python, "-c", "import service; print(service.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )
    assert where.stdout.decode().startswith(str(installed))  # not the checkout
    run("migrate")
    run("load")
    server = subprocess.Popen([cli, "serve"], cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        until(lambda: _status(base + "/ready") == 200, 30, "the installed server is ready")
        assert _status(base + "/v1/crises") == 200
        assert _status(base + "/") == 200  # the reader's pages: templates shipped too
        assert _status(base + "/openapi.json") == 200  # the examples too
    finally:
        server.terminate()
        server.wait(15)
        assert server.stderr is not None
        server.stderr.close()


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def test_every_folder_of_code_is_packaged() -> None:
    """The package list is written out (alembic/ and fixtures/ are mapped into it): a new
    folder of service/ left off it would be missing from the image."""
    listed = set(
        tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"
        ]
    )
    folders = {
        ".".join(p.parent.relative_to(PROJECT_ROOT).parts)
        for p in (PROJECT_ROOT / "service").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert folders <= listed, folders - listed


def test_the_image_runs_as_a_user_installs_the_package_and_checks_readiness() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    instructions = [
        line.split(None, 1)
        for line in re.sub(r"\\\n", " ", dockerfile).splitlines()
        if line.strip() and not line.startswith("#")
    ]
    users = [rest.strip() for word, rest in instructions if word == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the service must not run as root"
    installs = [rest for word, rest in instructions if word == "RUN" and "pip install" in rest]
    assert installs and all(" -e" not in i and "--editable" not in i for i in installs)
    checks = [rest for word, rest in instructions if word == "HEALTHCHECK"]
    assert len(checks) == 1 and "/ready" in checks[0]
