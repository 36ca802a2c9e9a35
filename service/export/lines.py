"""CSV lines of facts written by PostgreSQL from the cells stored beside each answer
(`fact_documents.cells`, service.export.columns.fact_cells), so that an export of a million
facts costs no Python and no parsing per row: a kind's own export joins its cells, a wider
one (the timeline, several kinds' columns) joins slices of them with empty cells between."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from service import schemas
from service.export.columns import Column, fact_columns

CELLS = sql.SQL("d.cells")
"""Where a row's stored cells are: the listings read fact_documents as `d`."""

Part = tuple[int, int] | int
"""A slice of the stored cells (first and last subscript, from 1), or that many empty cells."""


def parts(stored: Sequence[Column], columns: Sequence[Column]) -> list[Part]:
    """Where each of `columns` comes from in a row whose cells are of `stored`: runs of
    consecutive stored cells, and runs of empty ones (another kind's columns)."""
    at = {c.name: i + 1 for i, c in enumerate(stored)}
    made: list[Part] = []
    for column in columns:
        i = at.get(column.name)
        last = made[-1] if made else None
        if i is None and isinstance(last, int):
            made[-1] = last + 1
        elif i is None:
            made.append(1)
        elif isinstance(last, tuple) and last[1] + 1 == i:
            made[-1] = (last[0], i)
        else:
            made.append((i, i))
    return made


def _joined(stored: Sequence[Column], columns: Sequence[Column]) -> sql.Composable:
    """The text of a row's cells in `columns`, its stored cells being those of `stored`."""
    pieces: list[sql.Composable] = []
    for part in parts(stored, columns):
        if isinstance(part, int):  # n empty cells: n - 1 commas between the separators
            pieces.append(sql.Literal("," * (part - 1)))
        elif part == (1, len(stored)):
            pieces.append(sql.SQL("array_to_string({}, ',')").format(CELLS))
        else:
            pieces.append(sql.SQL("array_to_string({}[{}:{}], ',')").format(CELLS, *part))
    return sql.SQL(" || ',' || ").join(pieces)


def line(columns: Sequence[Column], shapes: Sequence[type[schemas.Fact]]) -> sql.Composable:
    """SQL of a fact row's CSV line (CRLF included, in UTF-8) in `columns`, the row being
    of one of `shapes`, each with its stored cells: one `CASE` arm per kind when several."""
    arms = [(s, _joined(fact_columns([s]), columns)) for s in shapes]
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
