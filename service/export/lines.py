"""CSV lines of facts written by PostgreSQL from what is stored beside each answer
(`fact_documents.cells`, service.export.cells), so that an export of a million facts costs
no Python and no parsing per row: a kind's own export joins its stored runs of cells, a
wider one (the timeline, several kinds' columns) joins them in its order with empty cells
between."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from service import schemas
from service.export.cells import placed, runs
from service.export.columns import Column, fact_columns

CELLS = sql.SQL("d.cells")
"""Where a row's stored runs are: the listings read fact_documents as `d`."""

Part = tuple[int, int] | int
"""Stored runs (first and last subscript, from 1), or that many empty cells."""


def parts(shape: type[schemas.Fact], columns: Sequence[Column]) -> list[Part]:
    """Where each of `columns` comes from in a row of `shape`: consecutive stored runs, and
    runs of empty cells (another kind's columns)."""
    cells: list[tuple[int, int] | int] = []  # runs of own cells [first, last], or empties
    for i in placed(fact_columns([shape]), columns):
        last = cells[-1] if cells else None
        if i is None and isinstance(last, int):
            cells[-1] = last + 1
        elif i is None:
            cells.append(1)
        elif isinstance(last, tuple) and last[1] + 1 == i:
            cells[-1] = (last[0], i)
        else:
            cells.append((i, i))
    first = {a: n + 1 for n, (a, _) in enumerate(runs(shape))}
    final = {b - 1: n + 1 for n, (_, b) in enumerate(runs(shape))}
    # every export keeps a stored run whole (cells.runs): its cells start and end runs
    return [p if isinstance(p, int) else (first[p[0]], final[p[1]]) for p in cells]


def _joined(shape: type[schemas.Fact], columns: Sequence[Column]) -> sql.Composable:
    """The text of a row of `shape` in `columns`, from its stored runs."""
    pieces: list[sql.Composable] = []
    for part in parts(shape, columns):
        if isinstance(part, int):  # n empty cells: n - 1 commas between the separators
            pieces.append(sql.Literal("," * (part - 1)))
        elif part == (1, len(runs(shape))):
            pieces.append(sql.SQL("array_to_string({}, ',')").format(CELLS))
        elif part[0] == part[1]:
            pieces.append(sql.SQL("{}[{}]").format(CELLS, part[0]))
        else:
            pieces.append(sql.SQL("array_to_string({}[{}:{}], ',')").format(CELLS, *part))
    return sql.SQL(" || ',' || ").join(pieces)


def line(columns: Sequence[Column], shapes: Sequence[type[schemas.Fact]]) -> sql.Composable:
    """SQL of a fact row's CSV line (CRLF included, in UTF-8) in `columns`, the row being
    of one of `shapes`: one `CASE` arm per kind when several."""
    arms = [(s, _joined(s, columns)) for s in shapes]
    if len(arms) == 1:
        text = arms[0][1]
    else:
        text = sql.SQL("CASE d.kind {} END").format(
            sql.SQL(" ").join(
                sql.SQL("WHEN {} THEN {}").format(sql.Literal(s.__struct_config__.tag), joined)
                for s, joined in arms
            )
        )
    return sql.SQL("convert_to({} || E'\\r\\n', 'UTF8')").format(text)
