"""Who is writing: a Litestar guard that checks the bearer key and its role.

Reads are public. A route that writes says the least role it needs in its `opt`
(`opt={"role": Role.EDITOR}`); the guard finds the key on the primary (revocation holds
on the next request, in every worker) and leaves the key on `request.state.key`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import SecurityRequirement, SecurityScheme

from service import keys
from service.api.asgi import has_header
from service.api.limits import Failures
from service.errors import Problem
from service.vocabulary import Role

SCHEME = "bearer"
SECURITY_SCHEMES: dict[str, Any] = {
    SCHEME: SecurityScheme(
        type="http",
        scheme="bearer",
        description="An API key made with `crisis-facts keys create`: "
        "`Authorization: Bearer cfk_...`.",
    )
}
SECURITY: list[SecurityRequirement] = [{SCHEME: []}]

REALM = 'Bearer realm="crisis-facts"'
ROLES = list(Role)


def _unauthorized(detail: str, error: str | None) -> Problem:
    challenge = REALM if error is None else f'{REALM}, error="{error}"'
    return Problem(401, detail, kind="unauthorized", headers={"WWW-Authenticate": challenge})


Connection = ASGIConnection[Any, Any, Any, Any]


async def require_key(connection: Connection, route: BaseRouteHandler) -> None:
    """The guard of every route that writes."""
    key = await checked_key(connection)
    needed = Role(route.opt.get("role", Role.CURATOR))
    if ROLES.index(key.role) < ROLES.index(needed):
        raise Problem(
            403,
            f"The key {key.name!r} has the role {key.role.value}; this needs {needed.value}.",
            kind="forbidden",
        )
    connection.state.key = key


async def reader_key(connection: Connection) -> keys.Key | None:
    """A read's key: None for an anonymous read; a key sent must be valid (401 otherwise),
    as a write's must, since it changes what the read answers (drafts)."""
    if not has_header(connection.scope, b"authorization"):
        return None
    return await checked_key(connection)


async def checked_key(connection: Connection) -> keys.Key:
    """The request's valid key, counting a failure against its address (429 past the limit)."""
    failures: Failures = connection.app.state.auth_failures
    address = connection.client.host if connection.client else "unknown"
    wait = await failures.blocked(address)
    if wait is not None:
        raise Problem(
            429,
            "Too many failed authentications from this address; try again later.",
            kind="too-many-failures",
            headers={"Retry-After": str(wait)},
        )
    try:
        key = await _key(connection)
    except Problem:
        await failures.add(address)
        raise
    return key


async def _key(connection: Connection) -> keys.Key:
    header = connection.headers.get("authorization")
    if header is None:
        raise _unauthorized("This needs an API key: send `Authorization: Bearer <token>`.", None)
    scheme, _, token = header.partition(" ")
    prefix = keys.prefix_of(token.strip()) if scheme.lower() == "bearer" else None
    if prefix is None:
        raise _unauthorized(
            "The Authorization header is not `Bearer <token>` with a token of this API.",
            "invalid_request",
        )
    async with connection.app.state.write_pool.connection() as conn:
        key = await keys.find(conn, prefix)
    if key is None or not keys.matches(key, token.strip()):
        raise _unauthorized("This API key is unknown or revoked.", "invalid_token")
    if not key.in_force(dt.datetime.now(dt.UTC)):
        ended = "was revoked" if key.revoked_at else "expired"
        when = (key.revoked_at or key.expires_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        raise _unauthorized(f"This API key {ended} on {when:%Y-%m-%d %H:%M} UTC.", "invalid_token")
    return key
