"""OVN: the lab's ``ovn-central`` (Debian's): the northbound and southbound ``ovsdb-server``
and ``ovn-northd``, each a process of the lab, their databases and control sockets in the lab
directory, the databases on 127.0.0.1 TCP ports (Neutron's OVN driver speaks to them there)."""

from __future__ import annotations

from pathlib import Path

from tests.lab.services import Context, Service, port_listening

PROCESSES = ("ovn-nb", "ovn-sb", "ovn-northd")
OVSDB_SERVER = "/usr/sbin/ovsdb-server"
OVSDB_TOOL = "/usr/bin/ovsdb-tool"
OVN_NORTHD = "/usr/bin/ovn-northd"
OVN_NBCTL = "/usr/bin/ovn-nbctl"
OVN_SBCTL = "/usr/bin/ovn-sbctl"
# The lab's chassis (tests/lab/chassis.py): Debian's openvswitch-switch and ovn-host.
OVS_VSWITCHD = "/usr/sbin/ovs-vswitchd"
OVS_VSCTL = "/usr/bin/ovs-vsctl"
OVN_CONTROLLER = "/usr/bin/ovn-controller"
OVN_APPCTL = "/usr/bin/ovn-appctl"
VSWITCH_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
SCHEMAS = {db: Path(f"/usr/share/ovn/ovn-{db}.ovsschema") for db in ("nb", "sb")}
_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def db_url(ctx: Context, db: str) -> str:
    """The OVSDB remote of the northbound (``nb``) or southbound (``sb``) database."""
    return f"tcp:127.0.0.1:{ctx.ports[f'ovn_{db}']}"


def _dir(ctx: Context) -> Path:
    return ctx.dir / "ovn"


def configure(ctx: Context) -> None:
    """The directory of the databases, pid files and control sockets."""
    _dir(ctx).mkdir(mode=0o700, exist_ok=True)


def _ovsdb_server(ctx: Context, db: str) -> Service:
    d = _dir(ctx)
    argv = [
        OVSDB_SERVER,
        str(d / f"ovn{db}_db.db"),
        f"--remote=ptcp:{ctx.ports[f'ovn_{db}']}:127.0.0.1",
        f"--remote=punix:{d / f'ovn{db}_db.sock'}",
        f"--unixctl={d / f'ovn{db}_db.ctl'}",
        f"--pidfile={d / f'ovn{db}_db.pid'}",
        "--no-chdir",
        "-vconsole:info",
        "-vsyslog:off",
    ]
    env = dict(_ENV, OVS_RUNDIR=str(d), OVS_LOGDIR=str(d), OVS_DBDIR=str(d))
    return Service(f"ovn-{db}", argv, env, ctx.log(f"ovn-{db}"), port=ctx.ports[f"ovn_{db}"])


def start(ctx: Context) -> None:
    """Create both databases from Debian's schemas, start their servers, then ovn-northd once
    both answer."""
    d = _dir(ctx)
    for db in ("nb", "sb"):
        ctx.run(
            f"ovn-{db}",
            [OVSDB_TOOL, "create", str(d / f"ovn{db}_db.db"), str(SCHEMAS[db])],
            env=dict(_ENV),
        )
        ctx.spawn(_ovsdb_server(ctx, db))
    ctx.wait_ready(["ovn-nb", "ovn-sb"])
    argv = [
        OVN_NORTHD,
        f"--ovnnb-db={db_url(ctx, 'nb')}",
        f"--ovnsb-db={db_url(ctx, 'sb')}",
        f"--unixctl={d / 'ovn-northd.ctl'}",
        f"--pidfile={d / 'ovn-northd.pid'}",
        "--no-chdir",
        "-vconsole:info",
        "-vsyslog:off",
    ]
    env = dict(_ENV, OVS_RUNDIR=str(d), OVS_LOGDIR=str(d))
    ctx.spawn(Service("ovn-northd", argv, env, ctx.log("ovn-northd")))
    ctx.wait_ready(["ovn-northd"])


def probe(service: Service, token: str | None) -> bool:
    if service.name == "ovn-northd":
        # Logged once it has both databases and holds the southbound lock: it is active.
        return "ovn-northd lock acquired" in service.log_since_start()
    return port_listening(service)
