"""The one place that uses a dependency's private API: a measured gain needs it and no public
API offers it. tests/test_adapters.py fails loudly when an upgrade changes what it relies on."""

from __future__ import annotations

import select
from typing import Any

from psycopg import AsyncConnection
from psycopg.abc import RV, PQGen
from psycopg.waiting import Ready, Wait


def _eager(gen: PQGen[RV], poller: select.poll) -> PQGen[RV]:
    """`gen`, but once a read has waited, the next ones go on while the socket has data."""
    waited = False
    try:
        state = next(gen)
        while True:
            ready: Ready | int
            if waited and state == Wait.R and poller.poll(0):
                ready = Ready.R
            else:
                ready = yield state
                waited = True
            state = gen.send(ready)
    except StopIteration as done:
        result: RV = done.value
        return result


class ReadConnection(AsyncConnection[Any]):
    """Overrides psycopg's undocumented `wait`: a page arriving in several reads skips the
    event loop between reads whose data is already there (bench/RESULTS.md)."""

    _poller: select.poll | None = None

    async def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        if self._poller is None:
            self._poller = select.poll()
            self._poller.register(self.pgconn.socket, select.POLLIN)
        return await super().wait(_eager(gen, self._poller), interval, timeout)
