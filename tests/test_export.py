"""Exports: every list as NDJSON and CSV with the JSON lists' filters, read whole and
compared with the lists; the data package validated by frictionless; a snapshot's bytes;
a client that leaves mid-stream."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import frictionless
import httpx
import msgspec
import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from service import engine as write_path
from service import schemas, synth
from service.export import listings, package
from service.export.cells import fact_cells
from service.export.columns import fact_columns, flattener
from service.export.formats import Csv, Ndjson
from service.export.snapshot import snapshot
from service.queries import FactFilter
from service.settings import PROJECT_ROOT, Settings
from service.vocabulary import FactKind
from tests.apiclient import Client, invalid, ok, problem, serve, walk
from tests.conftest import loaded_database
from tests.test_reliability import Served
from tests.waiting import until

EXPORTS = {
    "statements": "/v1/statements",
    "casualties": "/v1/casualties",
    "deployments": "/v1/deployments",
    "arrests": "/v1/arrests",
    "timeline": "/v1/timeline",
    "actors": "/v1/actors",
    "sources": "/v1/sources",
    "disputes": "/v1/disputes",
}


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    with serve(settings) as client:
        yield client


def ndjson(client: Client, name: str, /, **params: Any) -> tuple[list[Any], dict[str, Any]]:
    """An NDJSON export's items and its closing line."""
    response = client.get(f"/v1/export/{name}.ndjson", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.content.split(b"\n") if line]
    return lines[:-1], lines[-1]


def csv_rows(client: Client, name: str, /, **params: Any) -> list[dict[str, str]]:
    response = client.get(f"/v1/export/{name}.csv", params=params)
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


class TestNdjson:
    @pytest.mark.parametrize("name", EXPORTS)
    def test_is_the_json_list_whole_then_a_closing_line(self, client: Client, name: str) -> None:
        items, closing = ndjson(client, name)
        assert items == walk(client, EXPORTS[name])
        version = ok(client, "/ready")["dataset_version"]
        assert closing == {"complete": True, "count": len(items), "dataset_version": version}

    @pytest.mark.parametrize(
        ("name", "params"),
        [
            ("casualties", {"crisis": "kazakhstan-2022", "category": "killed"}),
            ("statements", {"mode": "direct", "language": "fr"}),
            ("arrests", {"confirmed": "true"}),
            ("deployments", {"since": "2022-01-06", "until": "2022-01-07"}),
            ("timeline", {"kind": ["arrest", "casualty"], "verification": "reported"}),
            ("timeline", {"kind": ["statement", "deployment"]}),
            ("actors", {"kind": "person", "name": "Masimov"}),
            ("sources", {"language": "en"}),
            ("disputes", {"kind": "casualty"}),
            ("disputes", {"key": "arrests.nationwide"}),
            (
                "disputes",
                {"crisis": "kazakhstan-2022", "kind": "arrest", "key": "arrests.nationwide"},
            ),
        ],
    )
    def test_filters_narrow_as_in_the_list(
        self, client: Client, name: str, params: dict[str, Any]
    ) -> None:
        items, closing = ndjson(client, name, **params)
        assert items == walk(client, EXPORTS[name], **params)
        assert closing["count"] == len(items)

    def test_bad_filters_are_refused_as_in_the_list(self, client: Client) -> None:
        invalid(client, "/v1/export/casualties.ndjson", "category", category="drowned")
        path = "/v1/export/casualties.csv"
        invalid(client, path, "until", since="2022-01-07", until="2022-01-01")
        invalid(client, "/v1/export/actors.ndjson", "crisis", crisis="Not A Slug")
        for suffix in ("csv", "ndjson"):
            listed = problem(client, "/v1/disputes", 400, key="Not A Slug")
            exported = problem(client, f"/v1/export/disputes.{suffix}", 400, key="Not A Slug")
            assert exported["invalid_params"] == listed["invalid_params"]
            assert [p["name"] for p in exported["invalid_params"]] == ["key"]

    def test_a_csv_is_narrowed_as_its_ndjson(self, client: Client) -> None:
        """`key` narrowed the disputes list but was refused by their export."""
        rows = csv_rows(client, "disputes", key="arrests.nationwide")
        items, _ = ndjson(client, "disputes", key="arrests.nationwide")
        assert [row["key"] for row in rows] == [item["key"] for item in items]
        assert items and {item["key"] for item in items} == {"arrests.nationwide"}


def query_parameters(document: dict[str, Any], path: str) -> list[dict[str, Any]]:
    return [p for p in document["paths"][path]["get"]["parameters"] if p["in"] == "query"]


def test_every_export_takes_exactly_its_lists_filters(client: Client) -> None:
    """An export's query parameters are its JSON list's, but for the paging, as the
    contract states them: a filter added to a list and not to its export fails here."""
    document = client.get("/openapi.json").json()
    exports = [p for p in document["paths"] if re.fullmatch(r"/v1/export/\w+\.(csv|ndjson)", p)]
    assert {p.rsplit("/", 1)[1].split(".")[0] for p in exports} == set(EXPORTS)
    for path in exports:
        listed = query_parameters(document, EXPORTS[path.rsplit("/", 1)[1].split(".")[0]])
        paging = {"limit", "cursor"}
        assert paging <= {p["name"] for p in listed}, path
        expected = [p for p in listed if p["name"] not in paging]
        assert query_parameters(document, path) == expected, path


NAMED_FILTERS = [
    *((name, "crisis", "kazakstan-2022") for name in EXPORTS),
    ("casualties", "actor", "tokayev"),
    ("casualties", "claimant", "tokayev"),
    ("statements", "speaker", "tokayev"),
    ("statements", "source", "src-nope"),
    ("deployments", "sender", "tokayev"),
    ("arrests", "source", "src-nope"),
    ("timeline", "actor", "tokayev"),
]


class TestAnIdThatNamesNothing:
    @pytest.mark.parametrize("suffix", ["csv", "ndjson"])
    @pytest.mark.parametrize(("name", "parameter", "wrong"), NAMED_FILTERS)
    def test_is_the_lists_404_before_any_row(
        self, client: Client, name: str, parameter: str, wrong: str, suffix: str
    ) -> None:
        """Not a header alone or a closing line counting 0, as if nothing matched."""
        listed = problem(client, EXPORTS[name], 404, **{parameter: wrong})
        exported = problem(client, f"/v1/export/{name}.{suffix}", 404, **{parameter: wrong})
        assert exported["type"] == listed["type"] == "urn:crisis-facts:problem:unknown-filter-id"
        assert exported["invalid_params"] == listed["invalid_params"]
        assert [p["name"] for p in exported["invalid_params"]] == [parameter]

    def test_an_id_that_names_something_with_nothing_to_export_is_still_exported(
        self, client: Client
    ) -> None:
        """An existing id that no row matches is an empty export, as it is an empty list."""
        items, closing = ndjson(client, "arrests", crisis="kazakhstan-2022", since="2100-01-01")
        assert items == [] and closing["count"] == 0


class TestCsv:
    @pytest.mark.parametrize("name", [n for n in EXPORTS if n in package.PRIMARY_KEYS])
    def test_one_row_per_item_with_the_packages_columns(self, client: Client, name: str) -> None:
        rows = csv_rows(client, name)
        items, _ = ndjson(client, name)
        assert len(rows) == len(items)
        (resource,) = [r for r in package.descriptor(0)["resources"] if r["name"] == name]
        assert list(rows[0]) == [f["name"] for f in resource["schema"]["fields"]]

    def test_fact_columns(self, client: Client) -> None:
        rows = {row["id"]: row for row in csv_rows(client, "casualties")}
        facts = {fact["id"]: fact for fact in walk(client, "/v1/casualties")}
        for fact_id, fact in facts.items():
            row = rows[fact_id]
            assert row["figure_count"] == str(fact["figure"]["count"])
            assert row["figure_hedge"] == fact["figure"]["hedge"]
            assert row["figure_count_max"] == str(fact["figure"]["count_max"] or "")
            assert row["date_precision"] == (fact["date"] or {}).get("precision", "")
            assert row["claimant_name"] == (fact["claimant"] or {}).get("name", "")
            first = fact["citations"][0]
            source = ok(client, f"/v1/sources/{first['source_id']}")
            assert row["citation_source_title"] == source["title"]
            assert row["citation_source_outlet"] == (source["outlet"] or "")
            assert row["citation_start"] == str(first["start"])
            assert row["citation_count"] == str(len(fact["citations"]))
            assert json.loads(row["citations"]) == fact["citations"]
            quote = first["quote"]
            assert row["citation_quote"] in {quote, "'" + quote}

    def test_rows_are_rfc_4180_with_crlf(self, client: Client) -> None:
        body = client.get("/v1/export/statements.csv").content
        assert body.count(b"\r\n") >= len(csv_rows(client, "statements")) + 1


class TestFormulaInjection:
    @pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
    def test_a_cell_that_starts_a_formula_is_neutralised(self, db: Db, start: str) -> None:
        row = timeline_csv_row(db, note=start + "HYPERLINK(1)")
        assert row["note"] == "'" + start + "HYPERLINK(1)"

    def test_other_cells_are_as_they_are(self, db: Db) -> None:
        row = timeline_csv_row(db, note="Almaty -2")
        assert row["note"] == "Almaty -2"
        assert (row["kind"], row["figure_count"], row["citation_count"]) == ("casualty", "20", "1")
        assert row["claimant_id"] == row["speaker_id"] == "", "empty: none, or not this kind's"
        assert row["citation_source_id"] == "src-001-massimov-arrete"


Db = psycopg.Connection[tuple[Any, ...]]


def timeline_csv_row(db: Db, note: str) -> dict[str, str]:
    """The timeline CSV row of the fixtures' first casualty figure given `note`, joined by
    PostgreSQL from the cells the write path would store for it."""
    found = db.execute(
        "SELECT document FROM fact_documents WHERE fact_id = 'cas-001-dozens-killed'"
    ).fetchone()
    assert found is not None
    fact = msgspec.json.decode(found[0], type=schemas.Casualty)
    cells = fact_cells(msgspec.structs.replace(fact, note=note))
    encoder = Csv(listings.timeline(FactFilter(), tuple(FactKind)))
    query = sql.SQL("SELECT {} FROM (VALUES ('casualty', %s::text[])) AS d(kind, cells)")
    line = db.execute(query.format(encoder.item), [cells], binary=True).fetchone()
    assert line is not None
    text = (encoder.header() + encoder.rows([line[0]])).decode("utf-8-sig")
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    return row


FACT_LISTINGS = [
    *(listing for listing in listings.everything() if listing.kinds),
    listings.timeline(FactFilter(), (FactKind.ARREST, FactKind.CASUALTY)),
    listings.timeline(
        FactFilter(verification="reported"), (FactKind.DEPLOYMENT, FactKind.STATEMENT)
    ),
    listings.facts("casualties", FactKind.CASUALTY, FactFilter(verification="reported")),
]


@pytest.mark.parametrize(
    "listing",
    FACT_LISTINGS,
    ids=[
        f"{listing.name}-{'-'.join(listing.kinds)}-{i}" for i, listing in enumerate(FACT_LISTINGS)
    ],
)
def test_the_lines_sql_joins_are_the_csv_modules_bytes(
    big_url: str, listing: listings.Listing
) -> None:
    """The CSV lines PostgreSQL joins from the stored cells are, byte for byte, what the csv
    module writes of the Structs flattened in Python (`columns.flattener`), for a kind's own
    columns and for the timeline's wider rows, over 15,000 synthetic facts."""
    encoder = Csv(listing)
    both = sql.SQL("{}, {}").format(Ndjson(listing).item, encoder.item)
    with psycopg.connect(big_url) as conn:
        rows = conn.execute(listing.query(both), listing.params, binary=True).fetchall()
    assert len(rows) > 100
    for document, line in rows:
        assert bytes(line) == encoder.flatten([document])


def test_the_lines_sql_makes_of_disputes_are_the_structs_flattened(big_url: str) -> None:
    """The CSV lines PostgreSQL makes of the stored disputes hold, cell for cell, what the
    Structs flatten to in Python, JSON cells as the same JSON."""
    listing = listings.disputes(None, None, None)
    encoder = Csv(listing)
    both = sql.SQL("{}, {}").format(Ndjson(listing).item, encoder.item)
    with psycopg.connect(big_url) as conn:
        rows = conn.execute(listing.query(both), listing.params, binary=True).fetchall()
    assert len(rows) > 100
    csv.field_size_limit(1 << 30)  # a synthetic dispute's figures are a long JSON cell
    json_cells = [i for i, c in enumerate(encoder.columns) if c.type in ("array", "object")]
    for document, line in rows:
        made, flattened = (
            next(csv.reader(io.StringIO(b.decode(), newline="")))
            for b in (line, encoder.flatten([document]))
        )
        for i in json_cells:
            made[i], flattened[i] = json.loads(made[i]), json.loads(flattened[i])
        assert made == flattened
        assert bytes(line).endswith(b"\r\n")


def cells_unlike_answers(url: str) -> list[str]:
    """The facts whose stored CSV cells are not their stored answer as the csv module
    writes it in its kind's columns."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT document, cells FROM fact_documents").fetchall()
    assert rows
    unlike = []
    for document, cells in rows:
        fact = msgspec.json.decode(document, type=schemas.AnyFact)
        shape = type(fact)
        written = io.StringIO()
        flatten = flattener(shape, fact_columns([shape]))
        csv.writer(written, lineterminator="\r\n").writerow(flatten(fact))
        if ",".join(cells) + "\r\n" != written.getvalue():
            unlike.append(fact.id)
    return unlike


class TestNegotiation:
    def test_an_accept_the_path_cannot_serve_is_406_naming_what_it_can(
        self, client: Client
    ) -> None:
        response = client.get("/v1/casualties", headers={"Accept": "text/csv"})
        assert response.status_code == 406
        assert response.headers["content-type"] == "application/problem+json"
        assert "/v1/export/casualties.csv" in response.json()["detail"]
        response = client.get("/v1/export/casualties.csv", headers={"Accept": "application/json"})
        assert response.status_code == 406
        assert "text/csv" in response.json()["detail"]

    def test_wildcards_and_the_right_type_are_served(self, client: Client) -> None:
        for accept in ["*/*", "text/*", "text/csv;q=0.5, application/json"]:
            response = client.get("/v1/export/sources.csv", headers={"Accept": accept})
            assert response.status_code == 200, accept

    def test_unknown_lists_are_404(self, client: Client) -> None:
        problem(client, "/v1/export/crises.csv", 404)
        problem(client, "/v1/export/casualties.xlsx", 404)


def test_the_data_package_is_valid_and_reads_every_csv(client: Client, tmp_path: Path) -> None:
    descriptor = ok(client, "/v1/export/datapackage.json")
    (tmp_path / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    for resource in descriptor["resources"]:
        body = client.get(f"/v1/export/{resource['path']}").content
        (tmp_path / resource["path"]).write_bytes(body)
    report = frictionless.validate(tmp_path / "datapackage.json")
    assert report.valid, report.flatten(["resourceName", "rowNumber", "fieldName", "note"])
    assert {task.name for task in report.tasks} == set(package.PRIMARY_KEYS)


def test_the_data_package_names_the_version_its_csvs_and_a_snapshot_name(
    client: Client, database_url: str, tmp_path: Path
) -> None:
    """The served package had no `version`: a client could not tell which dataset version
    it described, nor compare it with each CSV's `X-Dataset-Version`."""
    served = ok(client, "/v1/export/datapackage.json")
    assert served["version"] == str(ok(client, "/ready")["dataset_version"])
    for resource in served["resources"]:
        response = client.get(f"/v1/export/{resource['path']}")
        assert response.headers["x-dataset-version"] == served["version"], resource["path"]
    folder = asyncio.run(snapshot(database_url, tmp_path, {"openapi": "3.1.0"}))
    kept = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert kept["version"] == served["version"]
    assert folder.name.endswith(f"-v{served['version']}")


def test_a_snapshot_is_the_same_bytes_for_the_same_version(
    database_url: str, tmp_path: Path
) -> None:
    first = asyncio.run(snapshot(database_url, tmp_path / "a", {"openapi": "3.1.0"}))
    second = asyncio.run(snapshot(database_url, tmp_path / "b", {"openapi": "3.1.0"}))
    version = ok_version(database_url)
    assert first.name == second.name and first.name.endswith(f"-v{version}")
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert {"datapackage.json", "openapi.json", "timeline.ndjson", "casualties.csv"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    report = frictionless.validate(first / "datapackage.json")
    assert report.valid, report.flatten(["resourceName", "rowNumber", "fieldName", "note"])


def ok_version(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT version FROM dataset_version").fetchone()
    assert row is not None
    return int(row[0])


def test_snapshot_command(database_url: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "snapshot", "--out", str(tmp_path)],
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    folder = Path(done.stdout.strip())
    assert json.loads((folder / "openapi.json").read_text())["info"]["title"] == "crisis-facts"


# ---------------------------------------------------------------- over a real server


def export_connections(url: str) -> list[str]:
    """The states of the export pool's connections, as PostgreSQL sees them."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT state FROM pg_stat_activity WHERE application_name = 'crisis-facts-export' "
            "AND datname = current_database()"
        ).fetchall()
    return [r[0] for r in rows]


def open_stream(port: int, path: str) -> tuple[socket.socket, bytes]:
    """A GET whose answer is read slowly: a small receive buffer makes the server wait; the
    socket and the answer's first bytes (its head)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = sock.recv(4096)
    assert b" 200 " in head.split(b"\r\n", 1)[0]
    return sock, head


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


BIG = 15_000
"""Facts enough that a timeline export (about 12 MB) outlasts the socket buffers."""


@pytest.fixture(scope="module")
def big_url(server_url: str) -> Iterator[str]:
    def fill(engine: sa.Engine) -> None:
        with engine.begin() as connection:
            write_path.apply(connection, synth.generate(BIG, seed=5), "synth")

    with loaded_database(server_url, "export", fill) as url:
        yield url


@pytest.fixture(scope="module")
def big_server(big_url: str) -> Iterator[Served]:
    # one export at a time: a connection not given back would make the next export wait
    served = Served(big_url, WORKERS="1", EXPORTS_PER_WORKER="1")
    yield served
    served.close()


def test_a_client_that_leaves_frees_its_connection_at_once(
    big_server: Served, big_url: str
) -> None:
    sock, _ = open_stream(big_server.port, "/v1/export/timeline.ndjson")
    # the export holds its transaction while the client is slow to read
    until(lambda: "idle in transaction" in export_connections(big_url), timeout=10)
    sock.close()
    busy = {"idle in transaction", "active"}
    # a connection kept would stay busy until the stream ended, minutes later; 5 s is load
    until(lambda: not busy & set(export_connections(big_url)), timeout=5)
    for _ in range(3):  # the pool's one export connection is back (else 503 after a second)
        response = httpx.get(big_server.base + "/v1/export/sources.csv", timeout=5)
        assert response.status_code == 200, response.text


def last_dated_fact(url: str) -> tuple[str, str]:
    """The kind and id of the fact a timeline export sends last."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT kind, id FROM facts WHERE occurred_on IS NOT NULL "
            "ORDER BY occurred_on DESC, id DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def test_an_export_is_one_version_while_a_write_commits(big_server: Served, big_url: str) -> None:
    before = ok_version(big_url)
    package = big_server.base + "/v1/export/datapackage.json"
    assert httpx.get(package, timeout=5).json()["version"] == str(before)
    kind, fact_id = last_dated_fact(big_url)
    sock, head = open_stream(big_server.port, "/v1/export/timeline.ndjson")
    until(lambda: "idle in transaction" in export_connections(big_url), timeout=10)

    def delete() -> None:
        with psycopg.connect(big_url) as conn:
            write_path.change(conn, [], [(kind, fact_id)], "desk", "Removed during an export")

    writer = threading.Thread(target=delete)
    writer.start()
    writer.join(timeout=20)
    assert not writer.is_alive(), "the write waited for the export to end"
    assert ok_version(big_url) == before + 1
    open_export = {"idle in transaction", "active"} & set(export_connections(big_url))
    assert open_export, "the export was still reading when the write committed"
    with sock:
        body = head + read_all(sock)
    assert f"x-dataset-version: {before}\r\n".encode() in head.lower()
    closing = json.loads(re.findall(rb'\{"complete":.*\}', body)[-1])
    assert closing["dataset_version"] == before
    assert f'"id":"{fact_id}"'.encode() in body, "the fact deleted mid-export is in its version"
    after = httpx.get(big_server.base + "/v1/export/timeline.ndjson", timeout=60)
    assert after.headers["x-dataset-version"] == str(before + 1)
    assert f'"id":"{fact_id}"' not in after.text
    # the package read after the write names the version the first export's did not
    until(lambda: httpx.get(package, timeout=5).json()["version"] == str(before + 1), timeout=10)
