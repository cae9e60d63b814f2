"""RabbitMQ: the lab's message broker (Debian's rabbitmq-server) and its own epmd."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Sequence

from tests.lab.services import Context, Service, port_listening

PROCESSES = ("epmd", "rabbitmq")
RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
# Not /usr/sbin/rabbitmqctl: that wrapper switches to the rabbitmq user, whose HOME has
# another Erlang cookie than the lab's node.
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


def transport_url(ctx: Context) -> str:
    """oslo.messaging's URL of the lab's broker."""
    return f"rabbit://guest:guest@127.0.0.1:{ctx.ports['rabbitmq']}/"


def configure(ctx: Context) -> None:
    """rabbitmq.conf (loopback listener, console log), no plugins, the Erlang cookie."""
    d = ctx.dir / "rabbitmq"
    for sub in ("mnesia", "log"):
        (d / sub).mkdir()
    (d / "enabled_plugins").write_text("[].\n")
    (d / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{ctx.ports['rabbitmq']}\n"
        "disk_free_limit.absolute = 1MB\n"
        "log.console = true\nlog.file = false\n"
    )
    cookie = d / ".erlang.cookie"
    cookie.write_text(secrets.token_hex(16))
    cookie.chmod(0o400)


def _base_env(ctx: Context) -> dict[str, str]:
    return {
        "PATH": "/usr/lib/rabbitmq/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(ctx.dir / "rabbitmq"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "ERL_EPMD_PORT": str(ctx.ports["epmd"]),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }


def _node(ctx: Context) -> str:
    return f"lab{ctx.ports['rabbitmq']}@localhost"


def _server_env(ctx: Context) -> dict[str, str]:
    d = ctx.dir / "rabbitmq"
    return {
        **_base_env(ctx),
        "RABBITMQ_NODENAME": _node(ctx),
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(ctx.ports["rabbitmq"]),
        "RABBITMQ_DIST_PORT": str(ctx.ports["rabbit_dist"]),
        "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
        "RABBITMQ_LOG_BASE": str(d / "log"),
        "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
        "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


def start(ctx: Context) -> None:
    """Start epmd, then the broker once epmd answers; return once the broker answers."""
    # Our own epmd, on our port and loopback only, so the lab never shares (or leaves) one.
    ctx.spawn(
        Service(
            "epmd",
            ["epmd", "-port", str(ctx.ports["epmd"]), "-address", "127.0.0.1"],
            _base_env(ctx),
            ctx.log("epmd"),
            port=ctx.ports["epmd"],
        )
    )
    ctx.wait_ready(["epmd"])
    ctx.spawn(
        Service(
            "rabbitmq",
            [RABBIT_SERVER],
            _server_env(ctx),
            ctx.log("rabbitmq"),
            port=ctx.ports["rabbitmq"],
            cwd=ctx.dir / "rabbitmq",
        )
    )
    ctx.wait_ready(["rabbitmq"])


def ctl(ctx: Context, args: Sequence[str], *, input: str | None = None) -> str:
    """Run ``rabbitmqctl ARGS`` against the lab's node (the broker administrator's side) and
    return its output; ``input`` goes to its standard input (``add_user NAME`` reads the
    password there)."""
    done = subprocess.run(
        [RABBITMQCTL, "-n", _node(ctx), *args],
        env=_base_env(ctx),
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def probe(service: Service, token: str | None) -> bool:
    return port_listening(service)
