"""docker-compose.yml's topology, read as Docker reads it (Docker itself is not run here):
a primary and a streaming standby, migrations once, scalable replicas behind a balancer."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from service import cli
from service.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    found: dict[str, Any] = compose["services"]
    return found


def needs(service: dict[str, Any]) -> dict[str, str]:
    return {name: rule["condition"] for name, rule in service.get("depends_on", {}).items()}


def test_the_replicas_wait_for_one_migration_and_load(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    steps = re.findall(r"crisis-facts (\w+)", " ".join(migrate["command"]))
    assert steps == ["migrate", "load"]
    for name in ("migrate", "deliver"):
        for step in re.findall(r"crisis-facts (\w+)", " ".join(services[name]["command"])):
            assert cli.parser().parse_args([step]).command == step
    assert "@primary:" in migrate["environment"]["DATABASE_URL"]
    assert migrate.get("restart", "no") == "no" and "ports" not in migrate
    for name in ("api", "deliver"):
        assert needs(services[name])["migrate"] == "service_completed_successfully"
        assert "migrate" not in " ".join(services[name].get("command", []))


def test_the_api_scales_behind_the_balancer(services: dict[str, Any]) -> None:
    api = services["api"]
    assert "ports" not in api, "a fixed host port would collide at --scale api=2"
    assert api["deploy"]["replicas"] >= 2
    assert needs(services["balancer"]) == {"api": "service_healthy"}
    assert [p.split(":")[-1] for p in services["balancer"]["ports"]] == ["8000"]
    env = api["environment"]
    assert "@primary:" in env["DATABASE_URL"] and "@standby:" in env["DATABASE_READ_URLS"]
    known = {name.upper() for name in Settings.__dataclass_fields__}
    assert set(env) <= known, set(env) - known  # every variable is a setting of the service


def test_the_balancer_checks_readiness(services: dict[str, Any]) -> None:
    mounted = {v.split(":")[1]: v.split(":")[0] for v in services["balancer"]["volumes"]}
    config = PROJECT_ROOT / mounted["/usr/local/etc/haproxy/haproxy.cfg"]
    text = config.read_text()
    assert "uri /ready" in text and "api:8000" in text
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(haproxy).exists(), "HAProxy is missing: run `make balancer`"
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True)
    assert checked.returncode == 0, checked.stderr.decode()


def test_the_standby_streams_from_the_primary(services: dict[str, Any]) -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    primary, standby = services["primary"], services["standby"]
    for server in (primary, standby):  # each keeps its data in a named volume
        assert any(v.split(":")[0] in compose["volumes"] for v in server["volumes"])
    assert primary["image"].startswith("postgres:") and standby["image"] == primary["image"]
    assert needs(standby) == {"primary": "service_healthy"}
    init = [v for v in primary["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert init and "REPLICATION" in (PROJECT_ROOT / init[0].split(":")[0]).read_text()
    entry = (DEPLOY / "standby.sh").read_text()
    assert "pg_basebackup" in entry and "--write-recovery-conf" in entry
    assert "exec docker-entrypoint.sh postgres" in entry
    for name in ("primary", "standby"):
        assert "pg_isready" in " ".join(services[name]["healthcheck"]["test"])
    assert needs(services["api"])["standby"] == "service_healthy"


def test_the_deploy_scripts_parse() -> None:
    for script in DEPLOY.glob("*.sh"):
        assert subprocess.run(["sh", "-n", str(script)]).returncode == 0, script
