"""CSV lines of disputes written by PostgreSQL from their stored answers, so that a dispute
costs no Python (facts keep their cells instead: service.export.lines). The SQL is made
here from the same columns (service.export.columns) that the Table Schema describes, and
makes the same bytes as the csv module would, except that a JSON cell is the answer's own
text (the csv module's has sorted keys).

Each answer is parsed once as `json` (top-level fields as text, lists kept as written, which
are msgspec's bytes) and its nested objects once as `jsonb`, whose paths are cheap."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from service.export.columns import FIRST, FORMULA_STARTS, Column, Path

SPECIAL = ('"', ",", "\n", "\r")
"""What makes the csv module quote a cell (its delimiter, quote and line terminator)."""

_ROOT = sql.Identifier("csv_item")
_NESTED = sql.Identifier("csv_nested")


FORMULA_CODES = sql.SQL(", ").join(sql.Literal(ord(c)) for c in FORMULA_STARTS)
"""The code points a formula starts with: `ascii()` compares numbers, not strings."""


def _text(value: sql.Composable, neutralise: bool) -> sql.Composable:
    """A text cell as `columns.cell` and the csv module make it: prefixed with `'` when a
    spreadsheet would take it for a formula (OWASP), quoted only when it needs it (RFC 4180,
    `"` doubled). Each test reads `value` once: no clause is nested in another."""
    special = sql.SQL(" OR ").join(
        sql.SQL("strpos({}, {}) > 0").format(value, sql.Literal(c)) for c in SPECIAL
    )
    prefix: sql.Composable = sql.SQL("''")
    plain: sql.Composable = value
    if neutralise:
        formula = sql.SQL("ascii({}) IN ({})").format(value, FORMULA_CODES)
        prefix = sql.SQL("CASE WHEN {} THEN '''' ELSE '' END").format(formula)
        plain = sql.SQL("CASE WHEN {f} THEN '''' || {v} ELSE {v} END").format(f=formula, v=value)
    return sql.SQL(
        "CASE WHEN {special} THEN '\"' || {prefix} || replace({v}, '\"', '\"\"') || '\"' "
        "ELSE {plain} END"
    ).format(special=special, prefix=prefix, v=value, plain=plain)


def _iso(value: sql.Composable) -> sql.Composable:
    """A time as Python's `isoformat` writes it: msgspec's `Z` is `+00:00`."""
    return sql.SQL(
        "(CASE WHEN right({v}, 1) = 'Z' THEN left({v}, -1) || '+00:00' ELSE {v} END)"
    ).format(v=value)


def _path(steps: Path) -> sql.Composable:
    return sql.Literal([str(0 if s == FIRST else s) for s in steps])


def _value(column: Column) -> sql.Composable:
    """The column's value as text (None: SQL NULL, an empty cell)."""
    head, rest = column.path[0], column.path[1:]
    assert isinstance(head, str)
    if not rest:
        value: sql.Composable = sql.SQL("{}.{}").format(_ROOT, sql.Identifier(head))
        if column.length:
            return sql.SQL("json_array_length({})::text").format(value)
        if column.type in ("array", "object"):
            return sql.SQL("{}::text").format(value)
        return value
    nested = sql.SQL("{}.{}").format(_NESTED, sql.Identifier(head))
    return sql.SQL("({} #>> {})").format(nested, _path(rest))


def cell(column: Column) -> sql.Composable:
    """The column's cell, quoted as it needs: text neutralised, times as Python writes them."""
    value = _value(column)
    if column.type == "string" and column.enum is None:
        return _text(value, neutralise=True)
    if column.type == "datetime":
        return _iso(value)
    if column.type in ("array", "object"):
        return _text(value, neutralise=False)
    return value


def line(columns: Sequence[Column], document: sql.Composable) -> sql.Composed:
    """SQL of the CSV line (CRLF included, in UTF-8) of the stored answer `document`, a
    scalar subquery: the top level parsed once by `json_to_record`, nested objects once each."""
    top: dict[str, str] = {}
    nested: list[str] = []
    for column in columns:
        head = column.path[0]
        assert isinstance(head, str)
        if len(column.path) > 1:
            top[head] = "json"
            if head not in nested:
                nested.append(head)
        elif column.type in ("array", "object") or column.length:
            top[head] = "json"
        else:
            top.setdefault(head, "text")
    fields = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in top.items()
    )
    casts = sql.SQL(", ").join(
        sql.SQL("{root}.{name}::jsonb AS {name}").format(root=_ROOT, name=sql.Identifier(name))
        for name in nested
    )
    cells = sql.SQL(", ").join(cell(c) for c in columns)
    return sql.SQL(
        "(SELECT convert_to(array_to_string(ARRAY[{cells}], ',', '') || E'\\r\\n', 'UTF8') "
        "FROM json_to_record(({document})::json) AS {root}({fields}) "
        "CROSS JOIN LATERAL (SELECT {casts} OFFSET 0) AS {nested})"
    ).format(cells=cells, document=document, root=_ROOT, fields=fields, casts=casts, nested=_NESTED)
