"""The framework ceiling: Litestar on granian answering a fixed small JSON body, nothing else."""

from __future__ import annotations

import msgspec
from litestar import Litestar, get


class Pong(msgspec.Struct, frozen=True):
    status: str
    service: str


PONG = Pong(status="ok", service="crisis-facts-bench")


@get("/ping", sync_to_thread=False)
def ping() -> Pong:
    return PONG


def create_app() -> Litestar:
    return Litestar(route_handlers=[ping], debug=False)
