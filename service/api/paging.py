"""What every list answer shares: its query run on a pooled connection, and its page sent
with `Link: rel="next"` and the ETag the query knows."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode

from litestar import Request, Response

from service import schemas
from service.queries import Conn

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


async def fetch(
    request: Request[Any, Any, Any],
    query: Callable[Concatenate[Conn, P], Awaitable[R]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """Run one function of service.queries on a pooled connection, held only while it runs.

    Neither a Litestar dependency nor `pool.connection()`: why in bench/RESULTS.md.
    With standbys (DATABASE_READ_URLS), service.replicas chooses where it runs."""
    reads = request.app.state.reads
    if reads is not None:
        result: R = await reads.fetch(request.scope, query, *args, **kwargs)
        return result
    pool = request.app.state.pool
    conn = await pool.getconn()
    try:
        return await query(conn, *args, **kwargs)
    finally:
        await pool.putconn(conn)


_PLAIN_QUERY = re.compile(rb"[A-Za-z0-9._~!$'()*+,;=:@/?&-]*")
"""A query string that can go into a Link header as the client sent it: no escapes."""


def next_link(path: str, query_string: bytes, cursor: str, name: str = "cursor") -> str:
    """`Link: <path?same query, next cursor>; rel="next"`, the cursor in the parameter
    `name` (the changes feed's is `since`).

    A plain query string (the usual case: cursors are URL-safe base64) keeps its bytes and
    swaps its cursor; any other is decoded and encoded again."""
    if _PLAIN_QUERY.fullmatch(query_string):
        given = name.encode() + b"="
        kept = [p for p in query_string.split(b"&") if p and not p.startswith(given)]
        kept.append(given + cursor.encode())
        query = b"&".join(kept).decode()
    else:
        pairs = [
            (k, v) for k, v in parse_qsl(query_string.decode(), keep_blank_values=True) if k != name
        ]
        query = urlencode([*pairs, (name, cursor)])
    return f'<{path}?{query}>; rel="next"'


def paged(
    request: Request[Any, Any, Any], page: schemas.Page[T], etag: str | None = None
) -> Response[schemas.Page[T]]:
    """The page, with a `Link: rel="next"` header when there is one, and its ETag when
    the query knows it (service.api.caching hashes the body otherwise)."""
    headers = {} if etag is None else {"ETag": etag}
    if page.next_cursor is not None:
        path, query = request.scope["path"], request.scope["query_string"]
        headers["Link"] = next_link(path, query, page.next_cursor)
    return Response(page, headers=headers)
