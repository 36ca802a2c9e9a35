"""An export's bytes: NDJSON (the JSON lists' items, one a line, then a closing line) or
CSV (RFC 4180, UTF-8 with a BOM, columns from service.export.columns).

Each format says what PostgreSQL selects per row (`item`): the stored answers' own text, or
for CSV their lines made in SQL, of facts from the cells stored with them
(service.export.lines), of disputes from their answers (service.export.answer_lines), so
that a row costs no Python; the lists built on the fly (actors, sources, a few thousand
rows) are encoded here."""

from __future__ import annotations

import csv
import io
from typing import Any

import msgspec
from psycopg import sql

from service import schemas
from service.export import answer_lines, lines
from service.export.columns import Column, Flatten, fact_columns, flattener, plain_columns
from service.export.listings import FACT_SHAPES, Listing, list_decoder

NDJSON = "application/x-ndjson"
CSV = "text/csv"

BOM = "\ufeff"
"""Excel reads a CSV without it in the machine's legacy code page (accents and Cyrillic
garbled); LibreOffice, pandas, frictionless and Python's `utf-8-sig` all skip it."""

_encode = msgspec.json.Encoder(order="deterministic").encode

HOLD_ROWS = 200
"""Rows per call into msgspec's decoder and the csv writer, which keep the GIL for a whole
call: short calls let the worker's other requests run between them."""


def _text(listing: Listing) -> sql.Composed:
    return sql.SQL("convert_to({}, 'UTF8')").format(listing.document)


class Ndjson:
    """Each item as the JSON list serves it, one a line; then a `StreamEnd` line."""

    media_type = NDJSON

    def __init__(self, listing: Listing) -> None:
        self.listing = listing
        self.count = 0
        self.item = _text(listing)
        self.in_python = not listing.stored
        """Its rows take Python work (a thread's), not only joining."""

    def header(self) -> bytes:
        return b""

    def rows(self, batch: list[bytes]) -> bytes:
        self.count += len(batch)
        if self.listing.stored:  # the load's answers, one line each already
            return b"\n".join(batch) + b"\n"
        items = list_decoder(self.listing.shape).decode(b"[" + b",".join(batch) + b"]")
        return b"".join([_encode(item) + b"\n" for item in items])

    def end(self, version: int | None) -> bytes:
        closing = schemas.StreamEnd(complete=True, count=self.count, dataset_version=version)
        return _encode(closing) + b"\n"


def columns(listing: Listing) -> list[Column]:
    """The CSV columns of a listing."""
    if listing.kinds:
        return fact_columns([FACT_SHAPES[kind] for kind in listing.kinds])
    return plain_columns(listing.shape)


class Csv:
    """A header row, then one row per item; the transport tells a cut-off CSV (see README)."""

    media_type = CSV

    def __init__(self, listing: Listing) -> None:
        self.listing = listing
        self.columns = columns(listing)
        shapes = [FACT_SHAPES[kind] for kind in listing.kinds] or [listing.shape]
        self.rows_of: dict[type, Flatten] = {s: flattener(s, self.columns) for s in shapes}
        self.decoder = list_decoder(listing.shape)
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")
        self.in_python = not listing.stored
        """Its rows take Python work (a thread's): stored answers' lines come made by SQL."""
        self.item: sql.Composable = _text(listing)
        if listing.kinds:  # facts: their stored cells joined
            self.item = lines.line(self.columns, shapes)
        elif listing.stored:  # disputes: their answers parsed
            self.item = answer_lines.line(self.columns, listing.document)

    def _flush(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode()

    def header(self) -> bytes:
        self.buffer.write(BOM)
        self.writer.writerow([c.name for c in self.columns])
        return self._flush()

    def rows(self, batch: list[bytes]) -> bytes:
        """The lines of a batch: as they came (made by SQL), or made of the items' JSON."""
        return self.flatten(batch) if self.in_python else b"".join(batch)

    def flatten(self, documents: list[bytes]) -> bytes:
        """The lines of items' JSON documents, made in Python: the lists built on the fly,
        and what the lines made by SQL are tested against."""
        rows_of = self.rows_of
        for start in range(0, len(documents), HOLD_ROWS):
            part = documents[start : start + HOLD_ROWS]
            items: list[Any] = self.decoder.decode(b"[" + b",".join(part) + b"]")
            self.writer.writerows([rows_of[type(item)](item) for item in items])
        return self._flush()

    def end(self, version: int | None) -> bytes:
        return b""


FORMATS: dict[str, type[Ndjson] | type[Csv]] = {"ndjson": Ndjson, "csv": Csv}
"""Each format by the suffix that asks for it."""
