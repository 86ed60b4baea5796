"""A private PostgreSQL cluster for the site tests (and benchmarks/site.py).

The server refuses to run as root, so as root it runs as the `postgres` user (runuser); as
anyone else, as that user. It listens on a free loopback port with its socket in its own
temporary folder, host logins need a password (SCRAM), and it is stopped at the end. Without
PostgreSQL's server binaries the site tests are skipped with the reason; nothing else is.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

SUPERUSER = "rollcall"
START_TIMEOUT_S = 60
BIN_ENV = "ROLLCALL_PG_BIN"


def find_bin_dir() -> Path | None:
    """ROLLCALL_PG_BIN when set (and only it), else the newest Debian install, else pg_config's."""
    if os.environ.get(BIN_ENV):
        candidates = [os.environ[BIN_ENV]]
        return next((Path(c) for c in candidates if (Path(c) / "initdb").exists()), None)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
    for candidate in filter(None, candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgCluster:
    """initdb + pg_ctl in a temporary folder; `url()` gives a libpq URL for a role and database."""

    def __init__(self, bin_dir: Path, durable: bool = False):
        self.bin_dir = bin_dir
        self.durable = durable  # fsync on (benchmarks); tests skip it for speed
        self.root = Path(tempfile.mkdtemp(prefix="rollcall-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(a) for a in argv]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if check and result.returncode:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stdout}\n{result.stderr}")
        return result

    def init(self) -> PgCluster:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        if self._as_postgres:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(
            self.bin_dir / "initdb",
            "-D",
            self.data,
            "-U",
            SUPERUSER,
            "--pwfile",
            pwfile,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        return self

    def start(self) -> None:
        fsync = "on" if self.durable else "off"
        self._run(
            self.bin_dir / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.root / "log",
            "-w",
            "-t",
            START_TIMEOUT_S,
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync={fsync} -c max_connections=200",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(self.bin_dir / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    @property
    def running(self) -> bool:
        return self._run(self.bin_dir / "pg_ctl", "-D", self.data, "status", check=False).returncode == 0

    def url(
        self, database: str = "postgres", user: str = SUPERUSER, password: str | None = None, port: int | None = None
    ) -> str:
        password = self.password if password is None else password
        return f"postgresql://{user}:{password}@127.0.0.1:{port or self.port}/{database}?sslmode=disable"

    def create_database(self, name: str | None = None) -> str:
        import psycopg
        from psycopg import sql

        name = name or f"site_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):  # CI must test site mode, never pass by skipping it
            pytest.fail("CI has no PostgreSQL server binaries: scripts/test.sh should have installed postgresql-15")
        pytest.skip(
            "site tests need PostgreSQL's server binaries (initdb, pg_ctl): install Debian's postgresql-15 "
            f"package (scripts/test.sh does, as root) or set {BIN_ENV}"
        )
    cluster = PgCluster(bin_dir).init()
    cluster.start()
    yield cluster
    cluster.cleanup()


@pytest.fixture
def pg(pg_cluster):
    """The cluster, running, with a fresh database for this test: (cluster, owner URL)."""
    if not pg_cluster.running:
        pg_cluster.start()
    database = pg_cluster.create_database()
    yield pg_cluster, pg_cluster.url(database)
    if not pg_cluster.running:
        pg_cluster.start()
