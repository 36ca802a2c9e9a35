"""The servers under test, each a granian process group started and stopped by the bench.

The product runs as production runs it: `crisis-facts serve`, configured by environment
variables. The framework ceiling and the alternative run on the same granian with the same
options and worker count (`serve_target` below mirrors `cmd_serve` in service/cli.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent


@contextlib.contextmanager
def running(
    command: list[str], env: dict[str, str], ready_url: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command` in its own process group, wait until `ready_url` answers 200, stop it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_ready(ready_url, process, log)
            yield process
        finally:
            stop(process)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s; see {log}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT lets granian stop its workers; the group is killed if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers left behind, if any


def product_command() -> list[str]:
    return [str(BIN / "crisis-facts"), "serve"]


def target_command(target: str) -> list[str]:
    return [sys.executable, "-m", "bench.servers", target]


def serve_target(target: str) -> None:
    """Serve an ASGI app factory exactly as `crisis-facts serve` serves the product."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(
        target,
        factory=True,
        address=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        workers=int(os.environ.get("WORKERS", "1")),
        log_access=False,
    ).serve()


if __name__ == "__main__":
    serve_target(sys.argv[1])
