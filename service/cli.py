"""crisis-facts serve | deliver | migrate | load | synth | openapi | keys | settings."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from service.settings import Settings, documented

if TYPE_CHECKING:
    from service.engine import FixtureError, Outcome, Progress
    from service.keys import Key


def _url(settings: Settings) -> str:
    from service.database import server_url

    return server_url(settings)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from service import migrations

    migrations.upgrade(_url(settings), read_role=settings.read_role)
    print(f"database at revision {migrations.head()}")
    return 0


def _refused(title: str, exc: FixtureError, limit: int | None = None) -> int:
    print(f"{title} ({len(exc.problems)} problem(s)):", file=sys.stderr)
    for problem in exc.problems[:limit]:
        print(f"  {problem}", file=sys.stderr)
    return 2


def _report(crises: str, outcome: Outcome, url: str) -> None:
    from service import engine

    if outcome.total:
        engine.tidy(url)
        print(f"{crises}: {outcome.summary()}; dataset version {outcome.version}")
    else:
        print(f"{crises}: 0 changes; dataset version {outcome.version} unchanged")


def cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    from service import engine
    from service.database import engine_for

    root = Path(args.path) if args.path else settings.fixtures_dir
    try:
        bundle = engine.read_bundle(root)
    except engine.FixtureError as exc:
        return _refused("load refused, nothing was changed", exc)
    facts = sum(len(list(cb.facts)) for _, cb in bundle.crises)
    url = _url(settings)
    try:
        with engine_for(url) as db, db.begin() as connection:
            outcome = engine.apply(
                connection,
                bundle,
                "load",
                args.message,
                _progress_bar("load", facts),
                force=args.force,
            )
    except engine.FixtureError as exc:
        return _refused("load refused, nothing was changed", exc)
    _report(", ".join(cb.crisis.id for _, cb in bundle.crises), outcome, url)
    return 0


def cmd_synth(settings: Settings, args: argparse.Namespace) -> int:
    import time

    from service import engine, synth
    from service.database import engine_for

    started = time.perf_counter()
    bundle = synth.generate(args.facts, args.seed)  # the articles; facts come as they are read
    generating = synth.timed(bundle, time.perf_counter() - started)
    url = _url(settings)
    try:
        with engine_for(url) as db, db.begin() as connection:
            outcome = engine.apply(
                connection, bundle, "synth", args.message, _progress_bar("synth", args.facts)
            )
    except engine.FixtureError as exc:  # a bug in the generator, never the user's input
        return _refused("synth made an invalid crisis", exc, limit=20)
    elapsed = time.perf_counter() - started
    generated = generating()
    written = elapsed - generated
    _report(synth.crisis_id(args.facts), outcome, url)
    print(
        f"generated in {generated:.1f} s, checked and written in {written:.1f} s "
        f"({args.facts / written:,.0f} facts/s)"
    )
    return 0


def _progress_bar(label: str, facts: int) -> Progress | None:
    """A progress bar of facts compared, on a terminal, for changes big enough to wait for."""
    if not sys.stderr.isatty() or facts < 50_000:
        return None
    from tqdm import tqdm

    bar = tqdm(total=facts, unit="fact", unit_scale=True, desc=label, file=sys.stderr)

    def advance(count: int) -> None:
        bar.update(count)
        if bar.n >= facts:
            bar.close()

    return advance


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    # Workers are separate processes: hand them the resolved server so the embedded
    # PostgreSQL, if any, is started once here and shared.
    os.environ["DATABASE_URL"] = _url(settings)
    Granian(
        "service.app:create_served_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        workers=settings.workers,
        log_access=False,
    ).serve()
    return 0


def cmd_deliver(settings: Settings, args: argparse.Namespace) -> int:
    """Send webhooks until SIGTERM or SIGINT; the delivery in flight is finished first."""
    import logging
    import signal
    import threading

    from service.webhooks import worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker.run(_url(settings), settings, args.threads, stop)
    return 0


def cmd_openapi(settings: Settings, args: argparse.Namespace) -> int:
    from service.app import create_app

    spec = create_app(settings).openapi_schema.to_schema()
    text = json.dumps(spec, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """A crisis as it is stored, written back as fixtures: loading them gives 0 changes."""
    import psycopg

    from service.database import libpq_url
    from service.engine.export import export

    out = Path(args.out)
    with psycopg.connect(libpq_url(_url(settings))) as conn, conn.cursor() as cursor:
        try:
            counts = export(cursor, args.crisis, out)
        except LookupError as exc:
            print(f"export refused: {exc}", file=sys.stderr)
            return 2
    listed = ", ".join(f"{n} in {name}" for name, n in counts.items())
    print(f"{args.crisis} written to {out}: {listed}")
    return 0


def _expiry(days: float | None) -> dt.datetime | None:
    return None if days is None else dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def _days(text: str) -> float:
    """`--expires-in`: a positive number of days."""
    days = float(text)
    if not days > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of days")
    return days


def _state(key: Key) -> str:
    """A key's line in `keys list`: in force (until when), revoked or expired (when)."""
    if key.revoked_at is not None:
        return f"revoked {key.revoked_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    if key.expires_at is None:
        return "in force"
    ends = f"{key.expires_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    return f"in force until {ends}" if key.in_force(dt.datetime.now(dt.UTC)) else f"expired {ends}"


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    """keys create | list | revoke: the API keys curators' clients write with."""
    import psycopg

    from service import keys
    from service.database import libpq_url
    from service.vocabulary import Role

    with psycopg.connect(libpq_url(_url(settings)), autocommit=True) as conn:
        if args.action == "create":
            try:
                token = keys.create(conn, args.name, Role(args.role), _expiry(args.expires_in))
            except keys.KeyExists:
                print(f"a key named {args.name!r} exists already", file=sys.stderr)
                return 2
            print(f"key {args.name!r} ({args.role}); its token, shown this once:", file=sys.stderr)
            print(token)
        elif args.action == "list":
            for key in keys.listed(conn):
                print(f"{key.name}\t{key.role.value}\tcfk_{key.prefix}_…\t{_state(key)}")
        elif not keys.revoke(conn, args.name):
            print(f"no key named {args.name!r} in force", file=sys.stderr)
            return 2
        else:
            print(f"key {args.name!r} revoked")
    return 0


def cmd_snapshot(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from service.app import create_app
    from service.database import libpq_url
    from service.export.snapshot import snapshot

    openapi = create_app(settings).openapi_schema.to_schema()
    folder = asyncio.run(snapshot(libpq_url(_url(settings)), Path(args.out), openapi))
    print(folder)
    return 0


def cmd_settings(settings: Settings, args: argparse.Namespace) -> int:
    for name, help_text in documented().items():
        value = getattr(settings, name.lower())
        print(f"{name}={value!s}\n    {help_text}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="crisis-facts",
        description="Curated, cited facts about crises, served as a REST API. Configuration "
        "comes from the environment: see `crisis-facts settings`.",
    )
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the API (HOST, PORT, WORKERS)").set_defaults(func=cmd_serve)
    deliver = sub.add_parser("deliver", help="send webhooks: every change to every subscription")
    deliver.add_argument(
        "--threads", type=int, default=4, help="subscriptions served at once (default 4)"
    )
    deliver.set_defaults(func=cmd_deliver)
    sub.add_parser(
        "migrate", help="upgrade the database schema to the latest revision"
    ).set_defaults(func=cmd_migrate)
    load = sub.add_parser(
        "load", help="check the fixtures and apply what differs from the database, with history"
    )
    load.add_argument("path", nargs="?", help="fixtures folder (default: FIXTURES_DIR)")
    load.add_argument("--message", "-m", help="why: the summary of every revision it makes")
    load.add_argument(
        "--force",
        action="store_true",
        help="apply even what undoes changes made through the API since the last load",
    )
    load.set_defaults(func=cmd_load)
    synth = sub.add_parser(
        "synth",
        help="generate a synthetic crisis synth-<N> of N facts and load it (other crises stay)",
    )
    synth.add_argument("--facts", type=int, required=True, help="how many facts (at least 50)")
    synth.add_argument("--seed", type=int, default=1, help="same seed, same crisis (default 1)")
    synth.add_argument("--message", "-m", help="the summary of every revision it makes")
    synth.set_defaults(func=cmd_synth)
    spec = sub.add_parser("openapi", help="print the OpenAPI document the app serves")
    spec.add_argument("--output", "-o", help="write to this file instead of stdout")
    spec.set_defaults(func=cmd_openapi)
    export = sub.add_parser(
        "export", help="write a crisis as it is stored back as fixtures (load then: 0 changes)"
    )
    export.add_argument("--crisis", required=True, help="the crisis to export")
    export.add_argument("--out", required=True, help="the fixtures folder to write")
    export.set_defaults(func=cmd_export)
    keys = sub.add_parser("keys", help="create, list or revoke the API keys writes need")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key and print its token once")
    create.add_argument("--name", required=True, help="who holds it: shown in every revision")
    create.add_argument("--role", required=True, choices=["curator", "editor", "admin"])
    create.add_argument(
        "--expires-in",
        type=_days,
        metavar="DAYS",
        help="refuse the key this many days from now (default: in force until revoked)",
    )
    actions.add_parser("list", help="every key, its role and whether it is in force")
    revoke = actions.add_parser("revoke", help="revoke a key: refused from the next request on")
    revoke.add_argument("name")
    keys.set_defaults(func=cmd_keys)
    snap = sub.add_parser(
        "snapshot",
        help="write every list as CSV and NDJSON, the data package and the OpenAPI document "
        "to DIR/<date>-v<dataset version>/, the same bytes for the same version",
    )
    snap.add_argument("--out", required=True, help="the folder to write the snapshot into")
    snap.set_defaults(func=cmd_snapshot)
    sub.add_parser("settings", help="list every setting with its value and meaning").set_defaults(
        func=cmd_settings
    )
    return top


def main(argv: list[str] | None = None) -> int:
    import psycopg

    args = parser().parse_args(argv)
    try:
        code: int = args.func(Settings.from_env(), args)
    except psycopg.errors.UndefinedTable as exc:
        # A database never migrated (or DATABASE_URL naming another): a sentence, no traceback.
        print(
            f"{args.command} refused: the database has no crisis-facts schema "
            f"({exc.diag.message_primary}); check DATABASE_URL, or run `crisis-facts migrate`",
            file=sys.stderr,
        )
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
