"""A private PostgreSQL 15 instance for tests that break the database on purpose.

`initdb` into a temporary folder, the server binaries of Debian's `postgresql` package, a free
loopback port, trust authentication: the tests may stop, restart, fill or lock it at will, and
the machine's shared server is never touched. Run as root, the server runs as `nobody` (initdb
refuses root). The demo world is migrated and seeded once into a template database; each test
takes a copy of its own (`clone`), so what one test breaks no other test sees.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.run import _free_port

BIN = Path("/usr/lib/postgresql/15/bin")
ROOT = Path(__file__).resolve().parent.parent
SERVER_USER = "nobody"  # who runs the server when the tests run as root
WORLD = "world"  # the template database: migrated and seeded, never connected to afterwards
READY_SECONDS = 30
STATEMENT_TIMEOUT_MS = 30_000

# Production settings, but static files served from the source as the test suite serves them
# (tests/conftest.py): production's manifest storage needs `collectstatic` into the project's
# folder, which these tests leave alone.
SETTINGS_MODULE = "faults_settings"
SETTINGS = """\
from partnercenter.settings import *  # noqa: F403

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
"""


def missing() -> str:
    """Why no private instance can start here, or "" when one can."""
    if not (BIN / "initdb").exists():
        return f"{BIN / 'initdb'} is missing (Debian's postgresql-15 package)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root, and there is no user {SERVER_USER} to run PostgreSQL as"
    return ""


def _as_server_user() -> dict:
    """subprocess.run arguments that drop root to the server's user (none when not root)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(SERVER_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def server_owned(path: Path) -> None:
    """Make `path` the server's own (as root); a folder the server writes in must be."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVER_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _checked(command: list[str], **options) -> None:
    """Run `command`; when it fails, raise with what it printed."""
    run = subprocess.run(command, capture_output=True, text=True, **options)
    if run.returncode:
        raise RuntimeError(
            f"{' '.join(command)} exited {run.returncode}:\n{run.stdout}{run.stderr}"
        )


class PrivatePostgres:
    """One instance: `start()`, `stop()`, `url(database)`, `connect(database)`."""

    def __init__(self):
        # Not under pytest's tmp_path: as root that is private to root, and the server is not.
        self.folder = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.folder.chmod(0o755)
        self.data = self.folder / "data"
        self.sockets = self.folder / "sockets"
        self.sockets.mkdir()
        server_owned(self.sockets)
        self.port = _free_port()
        self.log = self.folder / "server.log"
        self.log.touch()
        server_owned(self.log)
        (self.folder / f"{SETTINGS_MODULE}.py").write_text(SETTINGS)

    # The server ---------------------------------------------------------------------------

    def _run(self, *command: str, timeout: float = 60) -> None:
        _checked(
            [str(BIN / command[0]), *command[1:]],
            cwd=self.folder,  # the server's user may not enter the caller's folder
            timeout=timeout,
            **_as_server_user(),
        )

    def initdb(self) -> None:
        self.data.mkdir()
        server_owned(self.data)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
            "--encoding=UTF8", "--locale=C",
        )  # fmt: skip

    def start(self) -> float:
        """Start the server; the monotonic time it first accepted a connection."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sockets} "
            # Speed over durability: the instance is thrown away at the end.
            "-c fsync=off -c full_page_writes=off -c shared_buffers=32MB"
        )
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-W", "-o", options)
        return self.wait_until_ready()

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "30")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def wait_until_ready(self) -> float:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return time.monotonic()
            except psycopg.OperationalError:
                time.sleep(0.02)
        raise TimeoutError(
            f"PostgreSQL did not accept connections in {READY_SECONDS} s:\n{self.log_tail()}"
        )

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    # Databases ----------------------------------------------------------------------------

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str, autocommit: bool = True) -> psycopg.Connection:
        """A connection of the test's own: each of its statements bounded, as every wait is."""
        return psycopg.connect(
            self.url(database),
            autocommit=autocommit,
            connect_timeout=5,
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        )

    def django_environment(self, database: str, **more: str) -> dict:
        """The environment of a process of the project's serving `database`, as in production
        (DEBUG off, persistent connections checked before use), plus `more`."""
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("DJANGO_", "DATABASE_", "PYTEST_", "PG"))
        }
        environment.update(
            {
                "PYTHONPATH": os.pathsep.join([str(self.folder), str(ROOT)]),
                "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
                "DATABASE_URL": self.url(database),
                "DJANGO_DEBUG": "0",
                "DJANGO_SECRET_KEY": "fault-tests-only-secret-key-" + "x" * 40,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_CONN_MAX_AGE": "600",
                "DJANGO_CONN_HEALTH_CHECKS": "1",
                # Readable lines in the server's log, quoted when a test fails.
                "DJANGO_LOG_FORMAT": "text",
                **more,
            }
        )
        return environment

    def seed_world(self) -> None:
        """The demo world, migrated and seeded into the template database."""
        with self.connect("postgres") as connection:
            connection.execute(f'CREATE DATABASE "{WORLD}"')
        environment = self.django_environment(WORLD)
        for command in (("migrate", "--no-input", "-v", "0"), ("seed_demo",)):
            _checked(
                [sys.executable, "manage.py", *command], cwd=ROOT, env=environment, timeout=300
            )

    def clone(self, database: str) -> str:
        """A fresh copy of the demo world, named `database`; its URL."""
        with self.connect("postgres") as connection:
            connection.execute(f'CREATE DATABASE "{database}" TEMPLATE "{WORLD}"')
        return self.url(database)

    def drop(self, database: str) -> None:
        with self.connect("postgres") as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    # The end ------------------------------------------------------------------------------

    def remove(self) -> None:
        """Stop the server (at once: nothing in it is kept) and delete its folder."""
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def started_with_world() -> PrivatePostgres:
    """A running instance with the demo world as its template database; the caller removes it."""
    instance = PrivatePostgres()
    try:
        instance.initdb()
        instance.start()
        instance.seed_world()
    except BaseException:
        instance.remove()
        raise
    return instance
