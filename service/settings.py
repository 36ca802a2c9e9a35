"""Every knob of the service, its default and why it exists; read from the environment here."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout (a developer's, the tests'); in an installed package, site-packages."""
SHIPPED = Path(__file__).resolve().parent / "shipped"
"""Where `pip install .` puts alembic/, fixtures/ and openapi/ (pyproject.toml package-dir)."""
CHECKOUT = not SHIPPED.is_dir()


def shipped(name: str) -> Path:
    """alembic/, fixtures/ or openapi/: the checkout's, or the copy installed with the code."""
    return PROJECT_ROOT / name if CHECKOUT else SHIPPED / name


T = TypeVar("T")


def _doc(default: T, help: str) -> T:
    """A dataclass field that carries its own documentation."""
    value: T = field(default=default, metadata={"help": help})
    return value


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Read once by `Settings.from_env()`; tests build their own."""

    database_url: str | None = _doc(
        None,
        "postgresql://user@host:port/db of the server to use; unset starts an embedded "
        "PostgreSQL in DATA_DIR/postgres.",
    )
    database_read_urls: tuple[str, ...] = _doc(
        (),
        "Comma-separated postgresql:// URLs of hot standbys of DATABASE_URL that serve "
        "reads; empty: every read on DATABASE_URL. Writes, LISTEN and migrations stay there.",
    )
    replica_max_lag: float = _doc(
        1.0,
        "Seconds a standby may trail the primary's WAL before its reads go to the primary; "
        "it rejoins by itself once it has caught up.",
    )
    data_dir: Path = _doc(
        PROJECT_ROOT / ".data" if CHECKOUT else Path(".data"),
        "Where the embedded PostgreSQL keeps its files (an installed package: in the "
        "current directory).",
    )
    fixtures_dir: Path = _doc(
        shipped("fixtures"), "The articles and curated facts `load` reads by default."
    )
    host: str = _doc("127.0.0.1", "Address `serve` listens on.")
    port: int = _doc(8000, "Port `serve` listens on.")
    workers: int = _doc(
        2,
        "Server worker processes, each with its own pool; 2 served the most pages on 2 cores "
        "(bench/RESULTS.md).",
    )
    pool_min_size: int = _doc(1, "Connections each worker keeps open.")
    pool_max_size: int = _doc(
        2,
        "Most connections one worker opens; requests beyond wait for one. More only lengthens "
        "the queue inside PostgreSQL (cold p99 131 ms with 2, 270 ms with 4).",
    )
    pool_timeout: float = _doc(
        1.0,
        "Seconds a request waits for a database connection before answering 503; also the "
        "connect timeout.",
    )
    statement_timeout_ms: int = _doc(
        5000, "PostgreSQL statement_timeout of every read query, in milliseconds."
    )
    auth_failures_per_minute: int = _doc(
        10,
        "Failed API-key checks one client address may make per minute before it gets 429; "
        "0 turns the limit off.",
    )
    cors_origins: tuple[str, ...] = _doc(
        (), "Comma-separated origins allowed to read the API from a browser; empty allows none."
    )
    read_role: str = _doc(
        "crisis_facts_reader",
        "Database role the serving connections act as; it may only SELECT. `migrate` creates "
        "it and grants it to the migrating user. Empty: serve as the login user.",
    )
    rate_limit_per_minute: int = _doc(
        1200,
        "Requests one client address may make per minute, counted across every worker and "
        "replica; 0 turns rate limiting off.",
    )
    trusted_proxies: tuple[str, ...] = _doc(
        (),
        "Comma-separated addresses or networks of the load balancers in front of `serve`: "
        "from them, X-Forwarded-For names the client that limits count; empty trusts none.",
    )
    redis_url: str = _doc(
        "",
        "redis://host:port/db where workers and replicas count rate limits and failed "
        "authentications; empty counts them in the primary PostgreSQL.",
    )
    allowed_hosts: tuple[str, ...] = _doc(
        ("localhost", "127.0.0.1", "[::1]"),
        "Comma-separated Host header values the service answers; `*` answers any.",
    )
    max_body_bytes: int = _doc(
        16384, "Largest request body accepted; a larger one is not read and gets 413."
    )
    answer_cache_entries: int = _doc(
        2048,
        "Answers each worker keeps in memory until the next load; 0 turns the cache off.",
    )
    answer_cache_mb: int = _doc(
        64, "Memory, in MiB of answer bodies, each worker may keep; the oldest go first."
    )
    exports_per_worker: int = _doc(
        2,
        "Exports (CSV, NDJSON) one worker streams at once, each on a connection of its own "
        "so that pages keep theirs; more wait POOL_TIMEOUT, then get 503.",
    )
    cache_max_age: int = _doc(60, "Cache-Control max-age, in seconds, of successful GET answers.")
    webhook_timeout: float = _doc(
        10.0, "Seconds a webhook delivery may take to connect, and again to be answered."
    )
    webhook_allow_private: bool = _doc(
        False,
        "Deliver webhooks to loopback, private and link-local addresses too (tests, a "
        "private network); off, only public addresses are called.",
    )
    max_source_bytes: int = _doc(
        1_048_576,
        "Largest body of POST /v1/sources, which carries an article's full text; larger "
        "ones get 413.",
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Each field from the upper-case variable of its name, when set."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f.name.upper())
            if raw is None or raw == "":
                continue
            default = f.default
            if isinstance(default, bool):
                values[f.name] = raw.lower() in {"1", "true", "yes", "on"}
            elif isinstance(default, int):
                values[f.name] = int(raw)
            elif isinstance(default, float):
                values[f.name] = float(raw)
            elif isinstance(default, Path):
                values[f.name] = Path(raw)
            elif isinstance(default, tuple):
                values[f.name] = tuple(o.strip() for o in raw.split(",") if o.strip())
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def documented() -> dict[str, str]:
    """Name -> help of every setting, for the README and its test."""
    return {f.name.upper(): f.metadata["help"] for f in fields(Settings)}
