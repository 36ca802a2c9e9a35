"""Webhooks: admin-only subscriptions, and a delivery worker that signs every change as
Standard Webhooks says, retries, survives being killed, and shares work with another."""

from __future__ import annotations

import datetime as dt
import http.server
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from standardwebhooks.webhooks import Webhook

from service import engine as write_path
from service import keys
from service.app import create_app
from service.settings import PROJECT_ROOT, Settings
from service.vocabulary import Role
from service.webhooks import worker
from tests.conftest import FIXTURES, loaded_database
from tests.test_changes import write
from tests.waiting import until

Client = TestClient[Litestar]


class Receiver:
    """An HTTP receiver on loopback that verifies each delivery as an integrator would."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: list[tuple[str, dict[str, Any]]] = []  # (webhook-id, payload)
        self.status = 204
        self.delay = 0.0
        self.arrived = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                payload = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                with receiver.arrived:
                    receiver.received.append((self.headers["webhook-id"], payload))
                    receiver.arrived.notify_all()
                # Time itself is under test here: a receiver slower than WEBHOOK_TIMEOUT.
                time.sleep(receiver.delay)  # a slow receiver: its delay is what is under test
                try:
                    self.send_response(receiver.status)
                    self.end_headers()
                    self.wfile.write(b"answer of the receiver")
                except BrokenPipeError:  # the worker gave up waiting, as it should
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, test: Callable[[], bool], seconds: float = 20) -> None:
        with self.arrived:
            assert self.arrived.wait_for(test, seconds), self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        return [i for i, _ in self.received]


@pytest.fixture(scope="module")
def hooks_url(server_url: str) -> Iterator[str]:
    with loaded_database(server_url, "hooks", lambda e: write_path.load(e, FIXTURES)) as url:
        yield url


@pytest.fixture(scope="module")
def settings(hooks_url: str) -> Settings:
    return Settings(
        database_url=hooks_url,
        allowed_hosts=("testserver.local",),
        rate_limit_per_minute=0,
        webhook_allow_private=True,  # the receiver is on loopback
        webhook_timeout=1.0,
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    with TestClient(create_app(settings)) as client:
        with psycopg.connect(settings.database_url or "", autocommit=True) as conn:
            token = keys.create(conn, "hooks-admin", Role.ADMIN)
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def subscribe(client: Client, receiver: Receiver, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": receiver.url, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secret = created["secret"]
    return created


@pytest.fixture
def running(settings: Settings) -> Iterator[Callable[[], None]]:
    """Start a delivery worker in this process (call it twice for two); stopped after."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start() -> None:
        url = settings.database_url or ""
        thread = threading.Thread(target=worker.run, args=(url, settings, 2, stop))
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(10)


def unsubscribe_all(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM webhook_subscriptions")


class TestSubscriptions:
    def test_the_secret_is_shown_once(self, client: Client, receiver: Receiver) -> None:
        created = subscribe(client, receiver, kinds=["crisis"])
        assert created["secret"].startswith("whsec_")
        listed = client.get("/v1/webhooks").json()["items"]
        assert created["id"] in [w["id"] for w in listed]
        assert all("secret" not in w for w in listed)
        one = client.get(f"/v1/webhooks/{created['id']}").json()
        assert "secret" not in one and one["kinds"] == ["crisis"]
        assert client.delete(f"/v1/webhooks/{created['id']}").status_code == 204
        assert client.get(f"/v1/webhooks/{created['id']}").status_code == 404

    @pytest.mark.parametrize(
        ("body", "name"),
        [
            ({}, "url"),
            ({"url": "ftp://example.com/hook"}, "url"),
            ({"url": "https://example.com/hook", "kinds": ["gossip"]}, "kinds"),
            ({"url": "https://example.com/hook", "colour": "red"}, "colour"),
        ],
    )
    def test_a_bad_body_is_a_400_problem(
        self, client: Client, body: dict[str, Any], name: str
    ) -> None:
        response = client.post("/v1/webhooks", json=body)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert name in response.text

    @pytest.mark.parametrize("crisis_id", ["nope", "kazakstan-2022"])
    def test_a_crisis_that_does_not_exist_is_a_422_naming_it_and_nothing_is_stored(
        self, client: Client, receiver: Receiver, crisis_id: str
    ) -> None:
        """Such a subscription would never be sent anything, as if no change came."""
        before = client.get("/v1/webhooks").json()["items"]
        response = client.post("/v1/webhooks", json={"url": receiver.url, "crisis_id": crisis_id})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        (named,) = response.json()["invalid_params"]
        assert named["name"] == "crisis_id" and repr(crisis_id) in named["reason"]
        assert client.get("/v1/webhooks").json()["items"] == before

    def test_a_crisis_that_exists_is_subscribed_to(
        self, client: Client, receiver: Receiver
    ) -> None:
        created = subscribe(client, receiver, crisis_id="kazakhstan-2022")
        assert created["crisis_id"] == "kazakhstan-2022"
        assert client.delete(f"/v1/webhooks/{created['id']}").status_code == 204

    def test_private_addresses_are_refused_unless_allowed(self, hooks_url: str) -> None:
        settings = Settings(database_url=hooks_url, allowed_hosts=("testserver.local",))
        with TestClient(create_app(settings)) as strict:
            with psycopg.connect(hooks_url, autocommit=True) as conn:
                token = keys.create(conn, "hooks-strict", Role.ADMIN)
            headers = {"Authorization": f"Bearer {token}"}
            for url in ["http://127.0.0.1/x", "http://10.1.2.3/x", "http://169.254.169.254/"]:
                response = strict.post("/v1/webhooks", json={"url": url}, headers=headers)
                assert response.status_code == 400, (url, response.text)
                assert response.json()["invalid_params"][0]["name"] == "url"

    def test_without_an_admin_key_it_is_401(self, settings: Settings) -> None:
        with TestClient(create_app(settings)) as anonymous:
            response = anonymous.get("/v1/webhooks")
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/problem+json"


class TestDelivery:
    def test_each_change_arrives_signed_in_order(
        self, client: Client, receiver: Receiver, running: Callable[[], None], hooks_url: str
    ) -> None:
        unsubscribe_all(hooks_url)
        created = subscribe(client, receiver, kinds=["crisis"])
        running()
        write(hooks_url, 50, seed=21)
        write(hooks_url, 51, seed=22)
        receiver.wait_for(lambda: len(receiver.received) >= 2)
        payloads = [p for _, p in receiver.received]
        assert [p["data"]["id"] for p in payloads] == ["synth-50", "synth-51"]
        assert [p["type"] for p in payloads] == ["crisis.created", "crisis.created"]
        revisions = [p["data"]["revision"] for p in payloads]
        assert revisions == sorted(revisions)
        attempts = client.get(f"/v1/webhooks/{created['id']}/deliveries").json()["items"]
        assert attempts[0]["ok"] and attempts[0]["status"] == 204

    def test_a_500_is_retried_later_with_the_same_id(
        self, client: Client, receiver: Receiver, running: Callable[[], None], hooks_url: str
    ) -> None:
        unsubscribe_all(hooks_url)
        created = subscribe(client, receiver, kinds=["crisis"])
        receiver.status = 500
        running()
        write(hooks_url, 52, seed=23)
        receiver.wait_for(lambda: len(receiver.received) >= 1)
        until(lambda: attempts(client, created["id"]) != [])
        failed = attempts(client, created["id"])[0]
        assert not failed["ok"] and failed["status"] == 500
        assert failed["excerpt"] == "answer of the receiver"
        hook = client.get(f"/v1/webhooks/{created['id']}").json()
        assert hook["failures"] == 1
        delay = dt.datetime.fromisoformat(hook["next_attempt_at"]) - dt.datetime.now(dt.UTC)
        assert dt.timedelta(seconds=3) < delay <= dt.timedelta(seconds=10)
        receiver.status = 204
        come_due(hooks_url, created["id"])  # as if the backoff had passed
        receiver.wait_for(lambda: len(receiver.received) >= 2)
        assert receiver.ids()[0] == receiver.ids()[1]
        until(lambda: client.get(f"/v1/webhooks/{created['id']}").json()["failures"] == 0)

    def test_a_slow_receiver_times_out_and_a_3_day_failure_disables(
        self, client: Client, receiver: Receiver, running: Callable[[], None], hooks_url: str
    ) -> None:
        unsubscribe_all(hooks_url)
        created = subscribe(client, receiver, kinds=["crisis"])
        receiver.delay = 2.0  # the worker waits 1 s
        running()
        write(hooks_url, 53, seed=24)
        until(lambda: attempts(client, created["id"]) != [])
        assert attempts(client, created["id"])[0]["error"].startswith("timed out")
        with psycopg.connect(hooks_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE webhook_subscriptions SET failing_since = now() - interval '3 days 1 hour',"
                " next_attempt_at = now() WHERE id = %s",
                [created["id"]],
            )
        until(lambda: client.get(f"/v1/webhooks/{created['id']}").json()["disabled_at"])
        hook = client.get(f"/v1/webhooks/{created['id']}").json()
        assert "failing since" in hook["disabled_reason"]

    def test_two_workers_never_send_one_change_twice(
        self, client: Client, receiver: Receiver, running: Callable[[], None], hooks_url: str
    ) -> None:
        unsubscribe_all(hooks_url)
        write(hooks_url, 60, seed=24)  # a crisis is subscribed to once it exists
        hook = subscribe(client, receiver, crisis_id="synth-60")
        running()
        running()
        write(hooks_url, 60, seed=25)
        with psycopg.connect(hooks_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM revisions WHERE crisis_id = 'synth-60' AND revision > %s",
                [hook["cursor"]],
            ).fetchone()
        expected = row[0] if row else 0
        receiver.wait_for(lambda: len(receiver.received) >= expected, 60)
        # A change is sent in the transaction that holds its subscription and moves its
        # cursor: once the cursor is past the last change, no send can still be under way.
        last = last_revision(hooks_url, "synth-60")
        until(lambda: delivered_up_to(hooks_url, hook["id"]) >= last, 60, "the cursor passes it")
        assert len(receiver.ids()) == len(set(receiver.ids())) == expected
        revisions = [p["data"]["revision"] for _, p in receiver.received]
        assert revisions == sorted(revisions)

    def test_a_deleted_subscription_gets_nothing_more(
        self, client: Client, receiver: Receiver, running: Callable[[], None], hooks_url: str
    ) -> None:
        unsubscribe_all(hooks_url)
        created = subscribe(client, receiver, kinds=["crisis"])
        receiver.status = 500
        running()
        write(hooks_url, 54, seed=26)
        receiver.wait_for(lambda: len(receiver.received) >= 1)
        assert client.delete(f"/v1/webhooks/{created['id']}").status_code == 204
        receiver.status = 204
        other = Receiver()
        try:
            second = subscribe(client, other, kinds=["crisis"])
            receiver.secret = "whsec_" + "A" * 44  # (not used: nothing may arrive)
            write(hooks_url, 55, seed=27)
            other.wait_for(lambda: len(other.received) >= 1)
            assert len(receiver.received) == 1, "the deleted subscription got nothing more"
            assert client.get(f"/v1/webhooks/{created['id']}/deliveries").status_code == 404
            assert second["id"] != created["id"]
        finally:
            other.close()


def test_a_worker_killed_mid_delivery_sends_it_again_after_restart(
    client: Client, receiver: Receiver, settings: Settings, hooks_url: str
) -> None:
    unsubscribe_all(hooks_url)
    subscribe(client, receiver, kinds=["crisis"])
    receiver.delay = 30.0  # the first delivery hangs until the worker is killed
    env = {
        **os.environ,
        "DATABASE_URL": hooks_url,
        "WEBHOOK_ALLOW_PRIVATE": "1",
        "WEBHOOK_TIMEOUT": "60",
    }
    command = [sys.executable, "-m", "service.cli", "deliver", "--threads", "1"]
    first = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT)
    try:
        write(hooks_url, 56, seed=28)
        receiver.wait_for(lambda: len(receiver.received) >= 1, 30)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    receiver.delay = 0.0
    second = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT)
    try:
        receiver.wait_for(lambda: len(receiver.received) >= 2, 30)
        assert receiver.ids()[0] == receiver.ids()[1], "sent again with the same webhook-id"
        # the receiver counts the request before the worker records its answer
        until(lambda: any(a["ok"] for a in attempts(client, client_hook(client))))
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0


def client_hook(client: Client) -> str:
    hook_id: str = client.get("/v1/webhooks").json()["items"][0]["id"]
    return hook_id


def attempts(client: Client, hook_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/v1/webhooks/{hook_id}/deliveries").json()["items"]
    return found


def delivered_up_to(url: str, hook_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT cursor FROM webhook_subscriptions WHERE id = %s", [hook_id])
        found = row.fetchone()
    return int(found[0]) if found else 0


def last_revision(url: str, crisis: str) -> int:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT max(revision) FROM revisions WHERE crisis_id = %s", [crisis]
        ).fetchone()
    return int(found[0]) if found and found[0] is not None else 0


def come_due(url: str, hook_id: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE webhook_subscriptions SET next_attempt_at = now() WHERE id = %s", [hook_id]
        )


def retried_after(outage: float, rng: random.Random) -> tuple[float, int]:
    """A receiver down from its first failure for `outage` seconds: how long after it is
    back the next attempt comes, and how many attempts failed meanwhile."""
    at, attempts = 0.0, 0
    while at < outage:
        attempts += 1
        at += worker.backoff(at, rng)
    return at - outage, attempts


@pytest.mark.parametrize("outage", [60.0, 600.0, 3600.0, 86400.0])
def test_a_receiver_back_is_retried_within_half_its_outage(outage: float) -> None:
    rng = random.Random(7)
    delays = [retried_after(outage, rng)[0] for _ in range(2000)]
    assert max(delays) <= outage / 2


def test_retries_span_the_three_days_before_disabling() -> None:
    rng = random.Random(8)
    span = worker.DISABLE_AFTER.total_seconds()
    counts = [retried_after(span, rng)[1] for _ in range(200)]
    assert 20 <= min(counts) and max(counts) <= 80


def test_a_change_heard_while_looking_for_work_is_not_slept_through() -> None:
    wakeup = worker.Wakeup()
    counted = wakeup.count()  # a sender thread starts looking for due work
    wakeup.notify()  # a change commits before it finds none and goes to sleep
    started = time.monotonic()
    wakeup.wait(5.0, counted)
    assert time.monotonic() - started < 1.0
