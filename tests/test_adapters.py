"""service/adapters.py relies on psycopg internals: these fail when an upgrade changes them."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, cast

import psycopg
import pytest
from psycopg.waiting import Ready, Wait

from service import adapters

# A result of several MB, which arrives in many reads.
BIG_RESULT = "SELECT i, md5(i::text) FROM generate_series(1, 50000) AS i"


def test_psycopg_wait_has_the_signature_read_connection_overrides() -> None:
    wait = psycopg.AsyncConnection.wait
    assert inspect.iscoroutinefunction(wait)
    assert list(inspect.signature(wait).parameters) == ["self", "gen", "interval", "timeout"]
    assert Wait.R in Wait and Ready.R in Ready


def test_reads_already_there_skip_the_event_loop(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If psycopg stopped calling `wait`, or read a result some other way, the override
    would silently do nothing."""
    skipped: list[int] = []
    eager = adapters._eager

    class Poller:
        def __init__(self, poller: Any) -> None:
            self.poller = poller

        def poll(self, timeout: float) -> Any:
            ready = self.poller.poll(timeout)
            skipped.extend([1] if ready else [])
            return ready

    def counted(gen: Any, poller: Any) -> Any:
        return eager(gen, cast(Any, Poller(poller)))

    monkeypatch.setattr(adapters, "_eager", counted)

    async def run() -> None:
        async with await adapters.ReadConnection.connect(server_url, autocommit=True) as conn:
            skipped.clear()
            # On a busy host the server may be slower than the reader for one whole result;
            # over a few of them, some reads find their data already there.
            for _ in range(5):
                await conn.execute(BIG_RESULT)
            assert skipped

    asyncio.run(run())


def test_a_result_of_many_reads_is_read_whole(server_url: str) -> None:
    async def read(connection_class: type[psycopg.AsyncConnection[Any]]) -> list[Any]:
        async with await connection_class.connect(server_url, autocommit=True) as conn:
            rows = await (await conn.execute(BIG_RESULT)).fetchall()
            rows += await (await conn.execute("SELECT 2")).fetchall()
            return rows

    rows = asyncio.run(read(adapters.ReadConnection))
    assert rows == asyncio.run(read(psycopg.AsyncConnection))
    assert len(rows) == 50_001 and rows[-1] == (2,)
