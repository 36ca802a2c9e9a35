"""Two `crisis-facts serve` replicas behind HAProxy (Debian's, `make balancer`), health-checked
on /ready: limits hold across replicas, and losing one replica loses no request."""

from __future__ import annotations

import concurrent.futures
import csv
import io
import random
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from service.database import drop_database
from tests.conftest import fresh_database
from tests.test_reliability import Served, free_port, migrated_and_loaded
from tests.waiting import until

REDIS_URL = "redis://127.0.0.1:6379/0"

CONFIG = """
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout check 2s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response junk-response response-timeout

frontend api
    bind 127.0.0.1:{port}
    http-request set-header X-Forwarded-For %[src]
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /ready hdr Host 127.0.0.1
    default-server inter 200ms fall 3 rise 1
{servers}

listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
"""


class Balancer:
    """HAProxy in the foreground, round robin over `ports`."""

    def __init__(self, folder: Path, ports: list[int]) -> None:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        assert Path(binary).exists(), "HAProxy is missing: run `make balancer`"
        self.port, stats_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stats_url = f"http://127.0.0.1:{stats_port}/stats;csv"
        servers = "\n".join(
            f"    server r{i} 127.0.0.1:{port} check" for i, port in enumerate(ports)
        )
        config = folder / "haproxy.cfg"
        config.write_text(CONFIG.format(port=self.port, stats_port=stats_port, servers=servers))
        self.process = subprocess.Popen(
            [binary, "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        until(lambda: self.up() == len(ports), 20, "every replica passes /ready")

    def servers(self) -> list[dict[str, str]]:
        try:
            text = httpx.get(self.stats_url, timeout=1).text
        except httpx.HTTPError:
            return []
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return [r for r in rows if r["pxname"] == "replicas" and r["svname"].startswith("r")]

    def up(self) -> int:
        return sum(1 for r in self.servers() if r["status"] == "UP")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def loaded_url(server_url: str) -> Iterator[str]:
    url = fresh_database(server_url, "replicas")
    try:
        migrated_and_loaded(url)
        yield url
    finally:
        drop_database(server_url, sa.engine.make_url(url).database or "")


def replicas(url: str, folder: Path, **env: str) -> tuple[list[Served], Balancer]:
    """Two single-worker replicas on `url` and a balancer in front of them."""
    with concurrent.futures.ThreadPoolExecutor(2) as starting:  # both start at once
        starts = [starting.submit(Served, url, WORKERS="1", **env) for _ in range(2)]
    served = [f.result() for f in starts if f.exception() is None]
    try:
        assert len(served) == 2, [f.exception() for f in starts]
        return served, Balancer(folder, [s.port for s in served])
    except BaseException:
        for s in served:
            s.close()
        raise


def client_at(address: str, balancer: Balancer) -> httpx.Client:
    """A client connecting from `address` (any of 127.0.0.0/8 reaches the balancer)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=balancer.base, timeout=10, transport=transport)


@pytest.mark.parametrize("store", ["postgresql", "redis"])
def test_the_rate_limit_holds_across_replicas(loaded_url: str, tmp_path: Path, store: str) -> None:
    """N requests a minute from one address in total, not N per replica."""
    # A limit of its own: the Redis on this machine may be shared by other runs.
    limit = random.randrange(20, 120)
    env = {
        "RATE_LIMIT_PER_MINUTE": str(limit),
        "AUTH_FAILURES_PER_MINUTE": "3",
        "TRUSTED_PROXIES": "127.0.0.1",  # HAProxy's address: X-Forwarded-For names the client
    }
    if store == "redis":
        env["REDIS_URL"] = REDIS_URL
    served, balancer = replicas(loaded_url, tmp_path, **env)
    try:
        with client_at("127.0.0.2", balancer) as client:
            # Failed authentications: 3 per address in all, then 429 on every replica.
            bad = {"Authorization": "Bearer cfk_" + "x" * 40}
            checks = [client.get("/v1/me", headers=bad).status_code for _ in range(8)]
            assert checks.count(401) == 3 and set(checks[3:]) == {429}, checks
            # Those 8 count against the rate limit too.
            statuses = [client.get("/v1/crises").status_code for _ in range(limit * 2)]
            assert statuses.count(200) == limit - 8 and statuses.count(429) == limit + 8
            answered = [int(r["hrsp_2xx"]) + int(r["hrsp_4xx"]) for r in balancer.servers()]
            assert all(n >= limit for n in answered), answered  # both replicas answered
        with client_at("127.0.0.3", balancer) as other:  # another client has its own count
            assert other.get("/v1/crises").status_code == 200
    finally:
        balancer.close()
        for s in served:
            s.close()


def test_a_replica_killed_under_load_fails_no_request(loaded_url: str, tmp_path: Path) -> None:
    """HAProxy retries what the dead replica dropped and stops sending it new requests."""
    served, balancer = replicas(loaded_url, tmp_path)
    failures: list[str] = []
    done = [0]
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=balancer.base, timeout=10) as client:
            while not stop.is_set():
                try:
                    answer = client.get("/v1/crises")
                    if answer.status_code != 200:
                        failures.append(str(answer.status_code))
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                done[0] += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        until(lambda: done[0] >= 100, 20, "load through both replicas")
        served[0].kill()
        killed_at = done[0]
        until(lambda: balancer.up() == 1, 10, "HAProxy sees the replica gone")
        until(lambda: done[0] >= killed_at + 300, 30, "load on the remaining replica")
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        balancer.close()
        for s in served:
            s.close()
    assert failures == [], failures
