"""Who is writing: a Litestar guard that checks the bearer key and its role.

Reads are public, but a key sent with one must be valid (service.api.readers). A route
that writes says the least role it needs in its `opt` (`opt={"role": Role.EDITOR}`); the
guard finds the key on the primary (revocation holds on the next request, in every
worker) and leaves the key on `request.state.key`.
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
    as a write's must. Checked once a request: kept on `state.key`, as require_key does."""
    if not has_header(connection.scope, b"authorization"):
        return None
    key: keys.Key | None = connection.state.get("key")
    if key is None:
        key = connection.state.key = await checked_key(connection)
    return key


async def checked_key(connection: Connection) -> keys.Key:
    """The request's valid key, counting a failure against its address: past the limit,
    429 even with a valid key."""
    failures: Failures = connection.app.state.auth_failures
    address = connection.client.host if connection.client else "unknown"
    header = connection.headers.get("authorization")
    prefix, token = _bearer(header)
    together = prefix is not None and failures.in_primary()
    if not together:
        _refuse_blocked(await failures.blocked(address))
    try:
        if header is None:
            raise _unauthorized(
                "This needs an API key: send `Authorization: Bearer <token>`.", None
            )
        if prefix is None:
            raise _unauthorized(
                "The Authorization header is not `Bearer <token>` with a token of this API.",
                "invalid_request",
            )
        async with connection.app.state.write_pool.connection() as conn:
            if together:  # the failures read in the same statement: one round trip
                key, used, seconds = await keys.find_counted(conn, prefix, failures.key(address))
                _refuse_blocked(failures.wait(used, seconds))
            else:
                key = await keys.find(conn, prefix)
        return _in_force(key, token)
    except Problem as problem:
        if problem.status == 401:
            await failures.add(address)
        raise


def _bearer(header: str | None) -> tuple[str | None, str]:
    """The token's prefix (None when the header is not a bearer token of this API), and the
    token."""
    if header is None:
        return None, ""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return (keys.prefix_of(token) if scheme.lower() == "bearer" else None), token


def _refuse_blocked(wait: int | None) -> None:
    if wait is not None:
        raise Problem(
            429,
            "Too many failed authentications from this address; try again later.",
            kind="too-many-failures",
            headers={"Retry-After": str(wait)},
        )


def _in_force(key: keys.Key | None, token: str) -> keys.Key:
    if key is None or not keys.matches(key, token):
        raise _unauthorized("This API key is unknown or revoked.", "invalid_token")
    if not key.in_force(dt.datetime.now(dt.UTC)):
        ended = "was revoked" if key.revoked_at else "expired"
        when = (key.revoked_at or key.expires_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        raise _unauthorized(f"This API key {ended} on {when:%Y-%m-%d %H:%M} UTC.", "invalid_token")
    return key
