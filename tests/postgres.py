"""A real PostgreSQL server for tests, started from the `postgres` binaries on this machine (or
Debian's `postgresql` package) in a temporary folder, on a free loopback port, with trust auth.
PostgreSQL refuses to run as root, so under root it runs as the `postgres` system user."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BINARY_FOLDERS = [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"))]


class PostgresUnavailable(RuntimeError):
    """No server could start here; the message says why (tests skip with it)."""


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (str(folder / name) for folder in BINARY_FOLDERS if (folder / name).is_file()), None
    )
    if not found:
        raise PostgresUnavailable(
            f"no `{name}` found: install Debian's postgresql package (apt-get install postgresql)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as error:
                raise PostgresUnavailable(
                    "running as root and no `postgres` user exists"
                ) from error
            self._as_user = ["runuser", "-u", "postgres", "--"]
            # Test folders are private to root; the server needs a folder it can reach.
            self.folder = Path(tempfile.mkdtemp(prefix="madoguchi-postgres-"))
            self.folder.chmod(0o755)
            self.data = self.folder / "data"

    def _run(self, *command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self._as_user, *command], capture_output=True, text=True, timeout=120, check=False
        )

    def start(self) -> str:
        """Initialise and start; returns the SQLAlchemy URL of the `postgres` database."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._as_user:
            shutil.chown(self.folder, "postgres", "postgres")
        done = self._run(
            _binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        if done.returncode:
            raise PostgresUnavailable(f"initdb failed: {done.stderr.strip()[-400:]}")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._run(
            _binary("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.folder / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip
        if done.returncode:
            log = (self.folder / "server.log").read_text(errors="replace")[-400:]
            raise PostgresUnavailable(f"pg_ctl start failed: {done.stderr.strip()} {log}")
        url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return url
            time.sleep(0.2)
        raise PostgresUnavailable("the server did not accept connections within 30 s")

    def create_database(self, name: str, template: str = "") -> str:
        """A new database (a copy of `template` when given); returns its SQLAlchemy URL."""
        import psycopg

        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"{copy}')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        if self._as_user:
            shutil.rmtree(self.folder, ignore_errors=True)
