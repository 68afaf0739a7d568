"""Scratch PostgreSQL databases next to the test database, and migrations run as the release phase runs them
(`flask db upgrade`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from casting import config
from tests.utils.environment import FLASK, ROOT
from tests.utils.processes import server_env

FALLBACK_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class PostgresAdmin:
    """Creates scratch databases next to the test database and drops them again."""

    def __init__(self, admin_url):
        self.admin_url = admin_url
        self.engine = create_engine(config.database_url(admin_url.render_as_string(hide_password=False), "."),
                                    isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        self.created: list[str] = []

    def create_database(self, name: str | None = None) -> str:
        """A new empty database owned by the admin URL's user, named `name` or a fresh scratch name; its URL (with
        password) for the servers. One left under `name` by a run that was killed is dropped first."""
        name = name or f"casting_prod_test_{uuid.uuid4().hex[:12]}"
        self.created.append(name)
        try:
            with self.engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except DBAPIError as exc:
            if getattr(exc.orig, "pgcode", None) != "42501" or not self._create_as_superuser(name):
                raise
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def _create_as_superuser(self, name: str) -> bool:
        """The test database's role may lack CREATEDB (CI's does): as root, create it over the local socket, as
        .ci/postgres.sh does, owned by that role."""
        local = self.admin_url.host in (None, "", "127.0.0.1", "localhost")
        if not local or os.geteuid() != 0 or not shutil.which("runuser") or not shutil.which("psql"):
            return False
        owner = self.admin_url.username or "postgres"
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", "psql", "-p", str(self.admin_url.port or 5432),
             "-v", "ON_ERROR_STOP=1", "-q", "-c", f'CREATE DATABASE "{name}" OWNER "{owner}"'],
            capture_output=True, text=True, timeout=30, cwd="/",
        )
        assert result.returncode == 0, f"creating {name} as postgres failed: {result.stderr}"
        return True

    def engine_for(self, url: str):
        return create_engine(config.database_url(url, "."), connect_args={"connect_timeout": 3})

    def drop_all(self) -> None:
        for name in self.created:
            with self.engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.engine.dispose()


def migrate(database: str, signing_pem: str, revision: str = "head", **settings: str) -> None:
    result = subprocess.run(
        [FLASK, "--app", "app", "db", "upgrade", revision], cwd=ROOT, capture_output=True, text=True, timeout=90,
        env=server_env(DATABASE_URL=database, LOCAL_ISSUER_PRIVATE_KEY=signing_pem, **settings),
    )
    assert result.returncode == 0, f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}"


@contextlib.contextmanager
def database_of_worker(url: str, worker: str) -> Iterator[str]:
    """The database of one pytest-xdist worker (`worker` is gw0, gw1...): `<database>_<worker>` next to `url`'s, made
    empty by its role (CI's has CREATEDB) for the `_schema` fixture to migrate, and dropped at the end."""
    base = make_url(config.database_url(url, "."))
    admin = PostgresAdmin(base)
    try:
        yield admin.create_database(f"{base.database}_{worker}"[:63])
    finally:
        admin.drop_all()
