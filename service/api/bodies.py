"""What a write's decoded body must be beyond its schema: text PostgreSQL can store."""

from __future__ import annotations

from typing import Any

from service.errors import InvalidParam, Problem


def plain_text(value: Any, name: str = "body") -> None:
    """Refuse a NUL character, which PostgreSQL text cannot hold (msgspec refuses half a
    surrogate pair itself)."""
    if isinstance(value, dict):
        for key, item in value.items():
            plain_text(item, f"{name}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            plain_text(item, f"{name}[{index}]")
    elif isinstance(value, str) and "\x00" in value:
        raise Problem(
            400,
            f"Invalid body: `{name}` contains a NUL character.",
            kind="invalid-body",
            invalid=[InvalidParam(name, "contains a NUL character")],
        )
