"""`crisis-facts deliver`: sends each subscription the changes after its cursor, in order.

The change log is the outbox: a change and what is to be delivered of it commit together,
since a subscription's backlog is just the revisions after its cursor. Each delivery is one
transaction: claim a due subscription (`FOR UPDATE SKIP LOCKED`, so workers and replicas
never send to one subscription at once), send its next change, record the attempt, move
the cursor or schedule a retry, commit. A worker killed mid-send leaves the cursor where it
was: the change is sent again with the same `webhook-id` (at least once).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import psycopg
from standardwebhooks.webhooks import Webhook

from service import schemas
from service.database import NOTIFY_CHANNEL, libpq_url
from service.settings import Settings
from service.vocabulary import Operation, RecordKind
from service.webhooks.outbound import Refused, resolve

log = logging.getLogger(__name__)

FIRST_RETRY = 10.0
"""Seconds before the first retry; later ones wait half as long as the subscription has been
failing, up to MAX_RETRY."""
MAX_RETRY = 6 * 3600.0
DISABLE_AFTER = dt.timedelta(days=3)
"""A subscription failing this long is disabled: retries span the whole of it (30-60)."""
EXCERPT = 200
"""Characters of a receiver's answer kept with the attempt."""
MESSAGE_MAX = 2000
"""Characters of a change's message sent: the body stays well under 20 kB."""
IDLE_SECONDS = 1.0
"""Longest a worker thread sleeps between looks for due work (retries come due unseen)."""

Conn = psycopg.Connection[tuple[Any, ...]]
_encoder = msgspec.json.Encoder()


_jitter = random.Random()


def backoff(failing_for: float, rng: random.Random = _jitter) -> float:
    """Seconds until the next attempt of a subscription failing for `failing_for` seconds:
    half that (FIRST_RETRY at least, MAX_RETRY at most), so attempts grow exponentially
    (x1.25-1.5 each) and a receiver down for T is tried again at most T/2 after it is back;
    doubling per failure instead left up to T. With jitter (half to all of it), so that
    receivers coming back are not hit by every sender at once."""
    ceiling = min(MAX_RETRY, max(FIRST_RETRY, failing_for / 2))
    return ceiling * rng.uniform(0.5, 1.0)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    url: str
    kinds: list[str]
    crisis_id: str | None
    secret: str
    cursor: int
    failures: int
    failing_since: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None
    error: str | None
    excerpt: str | None
    duration_ms: int


_CLAIM = """
SELECT id, url, kinds, crisis_id, secret, cursor, failures, failing_since
FROM webhook_subscriptions s
WHERE disabled_at IS NULL AND next_attempt_at <= now()
  AND EXISTS (SELECT FROM revisions r WHERE r.revision > s.cursor)
ORDER BY next_attempt_at
LIMIT 1
FOR UPDATE SKIP LOCKED
"""

_NEXT = """
SELECT h.head, r.revision, r.kind, r.record_id, r.crisis_id, r.operation, r.made_at,
       r.author, r.message
FROM (SELECT coalesce(max(revision), 0) AS head FROM revisions) h
LEFT JOIN LATERAL (
  SELECT * FROM revisions
  WHERE revision > %(cursor)s
    AND (cardinality(%(kinds)s::text[]) = 0 OR kind = ANY(%(kinds)s::text[]))
    AND (%(crisis)s::text IS NULL OR crisis_id = %(crisis)s::text)
  ORDER BY revision LIMIT 1
) r ON true
"""


def deliver_one(conn: Conn, client: httpx.Client, settings: Settings) -> bool:
    """Claim one due subscription and send it its next change; False when none is due."""
    with conn.transaction():
        row = conn.execute(_CLAIM).fetchone()
        if row is None:
            return False
        sub = Subscription(*row)
        found = conn.execute(
            _NEXT, {"cursor": sub.cursor, "kinds": sub.kinds, "crisis": sub.crisis_id}
        ).fetchone()
        assert found is not None
        if found[1] is None:  # nothing of its kinds and crisis: pass over what was seen
            conn.execute(
                "UPDATE webhook_subscriptions SET cursor = %s WHERE id = %s", [found[0], sub.id]
            )
            return True
        change = schemas.ChangeRef(
            revision=found[1],
            kind=RecordKind(found[2]),
            id=found[3],
            crisis_id=found[4],
            operation=Operation(found[5]),
            made_at=found[6],
            author=found[7],
            message=None if found[8] is None else found[8][:MESSAGE_MAX],
        )
        message_id = f"msg_{sub.id}_{change.revision}"
        outcome = send(client, settings, sub, message_id, change)
        _record(conn, sub, message_id, change.revision, outcome)
    return True


def send(
    client: httpx.Client,
    settings: Settings,
    sub: Subscription,
    message_id: str,
    change: schemas.ChangeRef,
) -> Outcome:
    """POST one signed event; any answer but a 2xx, or none, is a failure."""
    event = schemas.ChangeEvent(
        type=f"{change.kind.value}.{change.operation.value}", timestamp=change.made_at, data=change
    )
    body = _encoder.encode(event)
    now = dt.datetime.now(dt.UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": "crisis-facts-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(sub.secret).sign(message_id, now, body),
    }
    started = time.monotonic()
    try:
        target = resolve(sub.url, settings.webhook_allow_private)
        response = client.post(
            target.url,
            content=body,
            headers={**headers, **target.headers},
            extensions=target.extensions,
        )
    except Refused as exc:
        return Outcome(False, None, f"refused: {exc}", None, _since(started))
    except httpx.TimeoutException as exc:
        return Outcome(False, None, f"timed out: {type(exc).__name__}", None, _since(started))
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:EXCERPT], None, _since(started))
    excerpt = response.text[:EXCERPT]
    ok = 200 <= response.status_code < 300
    error = None if ok else f"answered {response.status_code}"
    return Outcome(ok, response.status_code, error, excerpt, _since(started))


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _record(conn: Conn, sub: Subscription, message_id: str, revision: int, out: Outcome) -> None:
    conn.execute(
        "INSERT INTO webhook_attempts (subscription_id, revision, message_id, status, ok, error, "
        "excerpt, duration_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        [sub.id, revision, message_id, out.status, out.ok, out.error, out.excerpt, out.duration_ms],
    )
    if out.ok:
        conn.execute(
            "UPDATE webhook_subscriptions SET cursor = %s, failures = 0, failing_since = NULL, "
            "next_attempt_at = now() WHERE id = %s",
            [revision, sub.id],
        )
        return
    failures = sub.failures + 1
    failing_for = 0.0
    if sub.failing_since is not None:
        failing_for = (dt.datetime.now(dt.UTC) - sub.failing_since).total_seconds()
    conn.execute(
        "UPDATE webhook_subscriptions SET failures = %(failures)s, "
        "failing_since = coalesce(failing_since, now()), "
        "next_attempt_at = now() + make_interval(secs => %(delay)s), "
        "disabled_at = CASE WHEN failing_since < now() - %(limit)s THEN now() END, "
        "disabled_reason = CASE WHEN failing_since < now() - %(limit)s THEN "
        "'failing since ' || failing_since || ': ' || %(error)s END "
        "WHERE id = %(id)s",
        {
            "failures": failures,
            "delay": backoff(failing_for),
            "limit": DISABLE_AFTER,
            "error": out.error,
            "id": sub.id,
        },
    )


class Wakeup:
    """Wakes idle worker threads when a change commits (LISTEN on the dataset channel).

    Notifications are counted: a thread waits only if none came since it last looked for
    work, so a change committed while it was looking is not slept through (it was, for up
    to IDLE_SECONDS)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.heard = 0

    def notify(self) -> None:
        with self.condition:
            self.heard += 1
            self.condition.notify_all()

    def count(self) -> int:
        with self.condition:
            return self.heard

    def wait(self, seconds: float, counted: int) -> None:
        """Sleep until a notification after the `counted`-th, or `seconds` pass."""
        with self.condition:
            self.condition.wait_for(lambda: self.heard != counted, seconds)


def work(url: str, settings: Settings, wakeup: Wakeup, stop: threading.Event) -> None:
    """One worker thread: deliver while there is due work, else sleep until woken."""
    timeout = httpx.Timeout(settings.webhook_timeout)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        while not stop.is_set():
            try:
                name = "crisis-facts-deliver"
                with psycopg.connect(libpq_url(url), application_name=name) as conn:
                    while not stop.is_set():
                        counted = wakeup.count()
                        if not deliver_one(conn, client, settings):
                            wakeup.wait(IDLE_SECONDS, counted)
            except psycopg.OperationalError as exc:
                log.warning("delivery worker lost the database: %s", exc)
                stop.wait(1.0)


def listen(url: str, wakeup: Wakeup, stop: threading.Event) -> None:
    """Wake the workers on every committed change; reconnects by itself."""
    while not stop.is_set():
        try:
            with psycopg.connect(libpq_url(url), autocommit=True) as conn:
                conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                while not stop.is_set():
                    for _ in conn.notifies(timeout=IDLE_SECONDS, stop_after=1):
                        wakeup.notify()
        except psycopg.OperationalError:
            stop.wait(1.0)


def run(url: str, settings: Settings, threads: int, stop: threading.Event) -> None:
    """Deliver with `threads` senders until `stop` is set: a slow or failing receiver holds
    one of them, never the others' subscriptions."""
    wakeup = Wakeup()
    workers = [
        threading.Thread(target=work, args=(url, settings, wakeup, stop), name=f"deliver-{i}")
        for i in range(threads)
    ]
    workers.append(threading.Thread(target=listen, args=(url, wakeup, stop), name="listen"))
    for thread in workers:
        thread.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        stop.set()
        wakeup.notify()
        for thread in workers:
            thread.join()
