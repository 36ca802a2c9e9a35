"""Bulk exports: every list's whole filtered set as NDJSON or CSV, streamed in constant
memory from one consistent dataset version; the data package that describes the CSVs; and
`snapshot`, which writes them all to a dated directory.

`listings` says what each list exports (its SQL), `reading` reads it in one transaction
through a server-side cursor, `formats` encodes the rows, `package` describes them."""
