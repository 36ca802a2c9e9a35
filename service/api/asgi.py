"""Reading a request's ASGI scope as the server sent it."""

from __future__ import annotations

from typing import Any


def has_header(scope: Any, name: bytes) -> bool:
    """The request sends header `name` (lower case, as ASGI servers give names): a scan of
    the raw pairs, where Litestar's `request.headers` parses them all on first use."""
    return any(sent == name for sent, _ in scope["headers"])
