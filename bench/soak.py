"""Memory over a long run: RSS of the serving workers before and after 100,000 requests.

`python -m bench.soak [--requests N]` serves the curated data as production does
(`crisis-facts serve`), warms it up, records each worker's RSS, drives a mix of cached
pages, distinct cursor pages, details, searches, disputes and client errors with wrk
until N requests have been answered, and records RSS again. The figures go to
bench/soak.json and the "Memory" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from bench.servers import product_command, running

HERE = Path(__file__).resolve().parent
SECTION = "## Memory over 100,000 requests"
CACHE_ENTRIES = 64
"""Fewer than the distinct URLs: the cache keeps evicting, so most requests reach the database."""


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def urls(base: str) -> list[str]:
    """Every page of every list by cursor, details, searches, disputes, and bad requests."""
    paths: list[str] = []
    for kind in ("statements", "casualties", "deployments", "arrests", "actors", "timeline"):
        path: str | None = f"/v1/{kind}?limit=3"
        while path is not None:
            paths.append(path)
            page = get(base + path)
            for item in page["items"]:
                if kind not in {"timeline"}:
                    paths.append(f"/v1/{kind}/{item['id']}")
            cursor = page["next_cursor"]
            path = f"/v1/{kind}?limit=3&cursor={cursor}" if cursor else None
    paths += [f"/v1/search?q={word}" for word in ("arrestations", "troops", "Massimov", "police")]
    paths += [
        "/v1/disputes",
        "/v1/crises",
        "/v1/sources",
        "/v1/arrests?limit=0",
        "/v1/nothing",
        "/v1/arrests?cursor=forged",
    ]
    return paths


LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def rss(server: psutil.Process) -> dict[str, int]:
    """RSS in bytes of the server and each of its worker processes."""
    processes = [server, *server.children(recursive=True)]
    return {str(p.pid): p.memory_info().rss for p in processes if p.is_running()}


def wrk(base: str, script: Path, seconds: int) -> int:
    out = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"(\d+) requests in", out)
    assert match, out
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=18090)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    base = f"http://127.0.0.1:{args.port}"
    env = {
        "PORT": str(args.port),
        "WORKERS": "1",
        "RATE_LIMIT_PER_MINUTE": "0",
        "ANSWER_CACHE_ENTRIES": str(CACHE_ENTRIES),
    }
    for step in ("migrate", "load"):
        subprocess.run([product_command()[0], step], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "soak.log"
        with running(product_command(), env, base + "/ready", log) as process:
            paths = urls(base)
            script = Path(tmp) / "soak.lua"
            script.write_text(LUA % ", ".join(json.dumps(p) for p in paths), encoding="utf-8")
            server = psutil.Process(process.pid)
            wrk(base, script, 5)  # warm-up: imports, pools and caches reach their size
            before = rss(server)
            done, started = 0, time.monotonic()
            while done < args.requests:
                done += wrk(base, script, 10)
            elapsed = time.monotonic() - started
            after = rss(server)
    result = {
        "requests": done,
        "seconds": round(elapsed, 1),
        "distinct_urls": len(paths),
        "answer_cache_entries": CACHE_ENTRIES,
        "rss_before_mb": {pid: round(v / 2**20, 1) for pid, v in before.items()},
        "rss_after_mb": {pid: round(v / 2**20, 1) for pid, v in after.items()},
    }
    (HERE / "soak.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    report(result)
    print(json.dumps(result, indent=2))
    return 0


def report(result: dict[str, Any]) -> None:
    """Replace the memory section of RESULTS.md (it sits after the generated figures)."""
    rows = "\n".join(
        f"| {pid} | {result['rss_before_mb'][pid]} | {result['rss_after_mb'].get(pid, '-')} |"
        for pid in result["rss_before_mb"]
    )
    section = (
        f"{SECTION}\n\n"
        f"`python -m bench.soak` — {result['requests']:,} requests in {result['seconds']} s over "
        f"{result['distinct_urls']} distinct URLs (every cursor page, details, searches, "
        f"disputes and 4xx answers), one worker, answer cache capped at "
        f"{result['answer_cache_entries']} entries (fewer than the URLs, cycled in order: "
        "nearly every request misses and reaches the database).\n\n"
        "| process | RSS before (MB) | RSS after (MB) |\n| --- | ---: | ---: |\n"
        f"{rows}\n"
    )
    path = HERE / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if SECTION in text:
        head, _, tail = text.partition(SECTION)
        rest = tail.split("\n## ", 1)
        text = head + section + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
