"""Outbound safety: a webhook URL is called only at a public address, by http(s), once.

The host is resolved here and the request sent to the address that was checked (the Host
header and TLS server name keep the URL's name), so a name that resolves to a public
address when checked and to a private one when called cannot reach inside the network.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import httpx


class Refused(ValueError):
    """A URL this service will not call."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send: the URL with its host replaced by the checked address, and the
    headers and extensions that keep the original name for the receiver and TLS."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]


def check_url(url: str, allow_private: bool) -> httpx.URL:
    """The parsed URL, or Refused naming why it cannot be a webhook's."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Refused(f"not a URL: {exc}") from None
    if parsed.scheme not in {"http", "https"}:
        raise Refused("only http and https URLs are called")
    if not parsed.host:
        raise Refused("the URL names no host")
    if parsed.userinfo:
        raise Refused("credentials in the URL are not sent")
    if not allow_private:
        literal = _address(parsed.host)
        if parsed.host.lower() == "localhost" or (literal is not None and not literal.is_global):
            raise Refused(f"{parsed.host} is not a public address")
    return parsed


def resolve(url: str, allow_private: bool) -> Target:
    """Check the URL and resolve its host to one address allowed to be called."""
    parsed = check_url(url, allow_private)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"{parsed.host} does not resolve: {exc.strerror}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in found]
    if not allow_private:
        private = [a for a in addresses if not a.is_global]
        if private:
            raise Refused(f"{parsed.host} resolves to {private[0]}, not a public address")
    address = addresses[0]
    host_header = parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    return Target(
        url=parsed.copy_with(host=str(address)),
        headers={"Host": host_header},
        extensions=extensions,
    )


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
