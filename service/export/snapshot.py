"""`crisis-facts snapshot --out DIR`: every list as CSV and NDJSON, the data package and the
OpenAPI document, in `DIR/<date of the last change>-v<dataset version>/`, all read in one
transaction: the same dataset version gives the same bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from service.export import reading
from service.export.formats import Csv, Ndjson
from service.export.listings import everything
from service.export.package import descriptor


def _json(document: Any) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


async def snapshot(url: str, out: Path, openapi: dict[str, Any]) -> Path:
    """Write the snapshot of the dataset version `url` holds now under `out`; its folder."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        version = await reading.begin(conn)
        try:
            day = version.made_at.date().isoformat() if version.made_at else "empty"
            folder = out / f"{day}-v{version.number or 0}"
            partial = out / f".{folder.name}.partial"
            partial.mkdir(parents=True, exist_ok=True)
            for listing in everything():
                for encoder in (Csv(listing), Ndjson(listing)):
                    suffix = "csv" if isinstance(encoder, Csv) else "ndjson"
                    with open(partial / f"{listing.name}.{suffix}", "wb") as file:
                        file.write(encoder.header())
                        query = listing.query(encoder.item)
                        async for batch in reading.batches(conn, query, listing.params):
                            file.write(encoder.rows(batch))
                        file.write(encoder.end(version.number))
        finally:
            await reading.end(conn)
    created = version.made_at.isoformat() if version.made_at else None
    (partial / "datapackage.json").write_bytes(_json(descriptor(version.number or 0, created)))
    (partial / "openapi.json").write_bytes(_json(openapi))
    if folder.exists():  # the same version again: the same bytes, replaced whole
        for old in folder.iterdir():
            old.unlink()
        folder.rmdir()
    os.replace(partial, folder)
    return folder
