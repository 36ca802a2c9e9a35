"""What a committed change touched, sent with the dataset version it made (the payload of
its NOTIFY), so that each worker's answer cache drops only the answers that could show it.

A change of a few facts names them; any other change (a load, an article, an actor) names
nothing, and every worker drops every answer.
"""

from __future__ import annotations

import msgspec

MAX_FACTS = 50
"""A change of more facts names none: NOTIFY carries at most 8,000 bytes."""


class FactTouched(msgspec.Struct, frozen=True, array_like=True):
    """A fact a change wrote: `counted` when it was created, deleted, published or retracted,
    which moves its crisis's counts; an edit (`updated`) does not."""

    kind: str
    id: str
    crisis: str
    counted: bool


class Touched(msgspec.Struct, frozen=True, array_like=True):
    """Every fact a change wrote, and nothing else."""

    facts: tuple[FactTouched, ...]


_decoder = msgspec.json.Decoder(Touched)


def notice(version: int, touched: Touched | None) -> str:
    """The payload: the version, then what it touched when that is known."""
    if touched is None:
        return str(version)
    return f"{version} {msgspec.json.encode(touched).decode()}"


def heard(payload: str) -> tuple[int, Touched | None] | None:
    """(version, what it touched or None for everything) from a payload; None when the
    payload is not a version (a probe)."""
    version, _, body = payload.partition(" ")
    if not version.isdigit():
        return None
    if not body:
        return int(version), None
    try:
        return int(version), _decoder.decode(body)
    except msgspec.DecodeError:
        return int(version), None
