"""Benchmarks: `python -m bench` (or `make bench`) measures the service and rewrites RESULTS.md.

datasets.py    the databases benchmarked (curated fixtures, synth 100k, synth 1M)
servers.py     start the product, the framework ceiling and the alternative on granian
drivers.py     wrk (HTTP) and pgbench (SQL) with fixed connections and durations
run.py         one size: every scenario, the ceilings, the alternative
ceiling.py     a Litestar app with one fixed JSON route: the framework's ceiling
alternative.py the same list page written the usual way: FastAPI, pydantic, ORM
sweep.py       WORKERS x POOL_MAX_SIZE
report.py      results/*.json -> RESULTS.md
"""
