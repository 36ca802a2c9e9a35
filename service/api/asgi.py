"""Reading a request's ASGI scope as the server sent it."""

from __future__ import annotations

from typing import Any


def has_header(scope: Any, name: bytes) -> bool:
    """The request sends header `name` (lower case, as ASGI servers give names): a scan of
    the raw pairs, where Litestar's `request.headers` parses them all on first use."""
    return any(sent == name for sent, _ in scope["headers"])


def header_value(scope: Any, name: bytes) -> bytes | None:
    """The value of the first header `name` the request sends, read as has_header does."""
    return next((value for sent, value in scope["headers"] if sent == name), None)
