"""MariaDB: the lab's database server (Debian's mariadbd), its databases and the ``lab`` user."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.lab.services import Context, Service, port_listening
from tests.lab.venv import cache_dir

PROCESSES = ("mariadb",)
MARIADBD = ("/usr/sbin/mariadbd", "/usr/sbin/mysqld")
DATABASES = (
    "keystone",
    "barbican",
    "nova_api",
    "nova",
    "placement",
    "octavia",
    "neutron",
    "glance",
)
_ENV_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def url(ctx: Context, db: str) -> str:
    """The SQLAlchemy URL of database ``db`` for the OpenStack services."""
    return (
        f"mysql+pymysql://lab:{ctx.passwords['db']}@127.0.0.1:{ctx.ports['mysql']}/{db}"
        "?charset=utf8"
    )


def socket_url(lab_dir: Path, password: str, db: str) -> str:
    """``url`` over the server's Unix socket (``password``: the lab's ``db``): for a service in
    a network namespace of its own (a chassis'), where 127.0.0.1 is not the lab's."""
    sock = lab_dir / "mysql" / "mysqld.sock"
    return f"mysql+pymysql://lab:{password}@localhost/{db}?unix_socket={sock}&charset=utf8"


def configure(ctx: Context) -> None:
    """MariaDB takes its settings on the command line (``--no-defaults``): only its tmpdir."""
    (ctx.dir / "mysql" / "tmp").mkdir()


def start(ctx: Context) -> None:
    """Initialise the data directory, start mariadbd, create the databases and the user."""
    d = ctx.dir / "mysql"
    mariadbd = next(p for p in MARIADBD if Path(p).exists())
    env = {"PATH": _ENV_PATH, "HOME": str(d), "LANG": "C.UTF-8"}
    ctx.run(
        "mariadb",
        [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={d / 'data'}",
            "--user=root",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ],
        env=env,
    )
    sock = d / "mysqld.sock"
    argv = [
        mariadbd,
        "--no-defaults",
        f"--datadir={d / 'data'}",
        "--user=root",
        "--bind-address=127.0.0.1",
        f"--port={ctx.ports['mysql']}",
        f"--socket={sock}",
        f"--pid-file={d / 'mysqld.pid'}",
        f"--tmpdir={d / 'tmp'}",
        "--skip-name-resolve",
        "--skip-log-bin",
        "--performance-schema=OFF",
        "--max-connections=400",
        "--open-files-limit=4096",
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=32M",
        # Lab data is disposable: trade durability for migration speed.
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
        "--innodb-flush-method=O_DIRECT_NO_FSYNC",
        "--character-set-server=utf8mb4",
    ]
    ctx.spawn(Service("mariadb", argv, env, ctx.log("mariadb"), ctx.ports["mysql"]))
    ctx.wait_ready(["mariadb"])
    sql = "".join(f"CREATE DATABASE {db} CHARACTER SET utf8;" for db in DATABASES)
    # 'lab'@'localhost' is the same account over the Unix socket (``socket_url``).
    for host in ("127.0.0.1", "localhost"):
        sql += (
            f"CREATE USER 'lab'@'{host}' IDENTIFIED BY '{ctx.passwords['db']}';"
            f"GRANT ALL PRIVILEGES ON *.* TO 'lab'@'{host}';"
        )
    ctx.run("mariadb", ["mariadb", f"--socket={sock}", "-uroot", "-e", sql], env=env)


def _socket(ctx: Context) -> Path:
    return ctx.dir / "mysql" / "mysqld.sock"


def _env(ctx: Context) -> dict[str, str]:
    return {"PATH": _ENV_PATH, "HOME": str(ctx.dir / "mysql"), "LANG": "C.UTF-8"}


def schema_cache(ctx: Context, db: str) -> Path:
    """Where the migrated schema of ``db`` is kept for this lab venv (its pins' key)."""
    return cache_dir() / "schemas" / f"{db}-{ctx.venv_root.name}.sql"


def migrate_cached(ctx: Context, name: str, db: str, migrate: Callable[[], None]) -> None:
    """The schema of ``db``: loaded from the cache when this venv has migrated it before;
    otherwise ``migrate()`` runs and its result is dumped into the cache (a dump is renamed into
    place whole, so a concurrent lab reads a complete one or migrates itself)."""
    cached = schema_cache(ctx, db)
    client = ["mariadb", f"--socket={_socket(ctx)}", "-uroot"]
    if cached.is_file():
        ctx.run(name, [*client, db, "-e", f"source {cached}"], env=_env(ctx))
        return
    migrate()
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f".{cached.name}.{os.getpid()}")
    ctx.run(
        name,
        [
            "mariadb-dump",
            f"--socket={_socket(ctx)}",
            "-uroot",
            "--skip-dump-date",
            "--single-transaction",
            f"--result-file={partial}",
            db,
        ],
        env=_env(ctx),
    )
    os.replace(partial, cached)


def admin_sql(ctx: Context, sql: str) -> None:
    """Run ``sql`` as the server's root over its socket (the database provider's side).

    The statements go on standard input, not the command line: they may hold passwords."""
    _root_client(ctx, sql)


def admin_query(ctx: Context, sql: str) -> list[list[str]]:
    """The rows ``sql`` selects, read as the server's root, each a list of its columns' text
    (``NULL`` for a null)."""
    out = _root_client(ctx, sql, "--batch", "--skip-column-names", "--raw")
    return [line.split("\t") for line in out.splitlines()]


def _root_client(ctx: Context, sql: str, *options: str) -> str:
    d = ctx.dir / "mysql"
    return subprocess.run(
        ["mariadb", f"--socket={d / 'mysqld.sock'}", "-uroot", *options],
        env={"PATH": _ENV_PATH, "HOME": str(d), "LANG": "C.UTF-8"},
        input=sql,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def probe(service: Service, token: str | None) -> bool:
    return port_listening(service)
