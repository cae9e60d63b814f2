"""The charm's own files running the lab's Octavia: octavia-api under a real apache2 with
mod_wsgi, and octavia-worker, both reading the octavia.conf and apache site the charm renders
from relation data that points at the lab's Keystone, MariaDB and RabbitMQ.

``python -m tests.lab.charm_api WORKDIR [--timeout SECONDS]`` runs inside new network, PID and
mount namespaces (``unshare --net --pid --fork --kill-child --mount-proc``): the site's
``Listen 9876`` on every interface and RabbitMQ on the standard port the charm assumes are
private there, and every process dies with the namespace. In order, it

1. brings ``lo`` up, hides this machine's ``/run`` (apache's pid file, locks and sockets go
   there) under a tmpfs, and starts a lab whose RabbitMQ listens on 5672 and whose catalog
   publishes Octavia on 9876, without the lab's own Octavia;
2. creates the accounts the provider charms would, and runs the charm's install hook and its
   configure-resources action under ``ops.testing`` with the providers' data
   (``tests.lab.charm_inputs``): the action makes the amphorae's network, security groups,
   flavor and keypair in the lab's Neutron and Nova, and the charm renders their ids;
3. places the files the charm wrote on an Octavia unit (``tests.lab.charm_unit``), with the
   noop drivers layered on, runs the schema migration the charm ran, and starts apache2 and
   octavia-worker there;
4. as the lab's member, creates a load balancer through that API and waits for ACTIVE, adds
   a TERMINATED_HTTPS listener from a Barbican secret and waits for ACTIVE again, deletes
   the load balancer and waits until it is gone;
5. uploads the amphora image to the lab's Glance and, with a worker on Octavia's Nova compute
   driver, has Nova accept the amphora server the charm's ids describe, and refuse it with an
   unknown boot network (``tests.lab.charm_compute``);

and prints one JSON object (no secret in it) for the test to judge. With ``--tls`` the lab is
the TLS lab (every API over https with its own CA): keystone's databag carries that CA as
``ca_cert``, and a vault unit answers the charm's certificate request with a certificate from
it; apache2 serves the API with it, and every Octavia client trusts the CA only through the
system bundle on the unit, made by the update-ca-certificates the charm ran from the CA file
it wrote; on failure it has an
``error`` and the logs' tails, with every secret replaced by ``***``.
"""

from __future__ import annotations

import argparse
import base64
import configparser
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charmed_octavia.unit import machine, relations

from tests.certificates import ssh_public_key
from tests.lab import charm_compute, procs
from tests.lab.charm_inputs import (
    Rendered,
    amphora_config,
    create_accounts,
    operator_config,
    provider_data,
    render_with_charm,
)
from tests.lab.charm_unit import APACHE_LOGS, SYSTEM_PYTHON, OctaviaUnit
from tests.lab.control import Lab
from tests.lab.procs import started, wait_for
from tests.lab.services.octavia import WORKER_READY_MARK

# Where the charm's site listens, and the RabbitMQ port it assumes without ssl_port.
API_PORT = relations.API_PORT
AMQP_PORT = relations.AMQP_PORT
# The noop network driver accepts any subnet id.
VIP_SUBNET = "5f1a7e8c-2b6d-4c1e-9a3f-0d4e5b6c7a81"
# What cannot run here, layered on the charm's octavia.conf: no amphora VM, so no Nova
# server to plug a VIP port into; Octavia's noop drivers stand in (step 5 swaps the compute
# and image drivers back for the real ones).
NOOP_OVERLAY = {
    "controller_worker": {
        "amphora_driver": "amphora_noop_driver",
        "compute_driver": "compute_noop_driver",
        "network_driver": "network_noop_driver",
        "image_driver": "image_noop_driver",
        "volume_driver": "volume_noop_driver",
    },
}


@dataclass
class Run:
    """The driver's report, and the secrets it must never show."""

    report: dict[str, Any] = field(default_factory=dict)
    hidden: list[str] = field(default_factory=list)

    def redact(self, text: str) -> str:
        for value in self.hidden:
            if value:
                text = text.replace(value, "***")
        return text


# -- the namespace ---------------------------------------------------------------------------


def loopback_up() -> None:
    """``ip link set lo up``, without needing iproute2: the interface's flags through ioctl."""
    get_flags, set_flags, up = 0x8913, 0x8914, 0x1  # SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, get_flags, request)[:18])[1]
        fcntl.ioctl(sock, set_flags, struct.pack("16sH", b"lo", flags | up))


def prepare_namespace() -> None:
    """Loopback up; a private /run, so apache's pid file, locks and sockets stay in here."""
    loopback_up()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"], check=True)
    Path("/run/lock").mkdir(mode=0o1777)
    os.chmod("/run/lock", 0o1777)  # noqa: S103 - /run/lock is 1777 on Debian and Ubuntu


def http_status(url: str, token: str | None = None, ca_file: Path | None = None) -> int:
    """The HTTP status of GET ``url`` (https: trusting ``ca_file`` alone); 0 when nothing
    answers."""
    req = urllib.request.Request(url)  # noqa: S310 (loopback http URL built here)
    if token:
        req.add_header("X-Auth-Token", token)
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as resp:  # noqa: S310
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0


def wsgi_daemons() -> list[int]:
    """The real uids of mod_wsgi's daemon processes of the octavia-api group."""
    uids = []
    for pid, _ in procs.live_processes():
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            # display-name=%{GROUP} is "(wsgi:octavia-api)", cut by mod_wsgi to the length
            # of apache's own argv[0].
            if cmdline.startswith(b"(wsgi:octavia-api"):
                status = Path(f"/proc/{pid}/status").read_text()
                uids.append(
                    int(next(x for x in status.splitlines() if x[:4] == "Uid:").split()[1])
                )
    return uids


# -- the load balancer -----------------------------------------------------------------------


def follow(conn: Any, lb_id: str, seen: list[str], until: tuple[str, ...]) -> list[str]:
    """Poll the load balancer's provisioning status ("GONE" once the API has it no more)
    until one of ``until``; ``seen`` with every new status appended."""
    from openstack import exceptions

    def reached() -> bool:
        try:
            current = conn.load_balancer.get_load_balancer(lb_id).provisioning_status
        except exceptions.NotFoundException:
            current = "GONE"
        if not seen or seen[-1] != current:
            seen.append(current)
        return current in until

    wait_for(f"load balancer {' or '.join(until)}", reached)
    return seen


def add_tls_listener(conn: Any, admin: Any, lb_id: str) -> dict[str, Any]:
    """A TERMINATED_HTTPS listener from a Barbican secret of the member's: the statuses of
    the load balancer meanwhile, and whether octavia-api granted its service user (the
    charm's [service_auth]) read access on the secret."""
    from charmed_octavia.cloud import tls

    secret = conn.key_manager.create_secret(
        name=f"charm-files-{uuid.uuid4().hex[:8]}",
        secret_type="opaque",
        payload=base64.b64encode(tls.generate_bundle("lb.lab.test").pkcs12).decode(),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
    )
    try:
        listener = conn.load_balancer.create_listener(
            loadbalancer_id=lb_id,
            protocol="TERMINATED_HTTPS",
            protocol_port=443,
            default_tls_container_ref=secret.secret_ref,
        )
        statuses = follow(conn, lb_id, [], ("ACTIVE", "ERROR"))
        acl = conn.session.get(f"{secret.secret_ref}/acl").json()
        octavia = admin.identity.find_user("octavia", ignore_missing=False)
        return {
            "listener_statuses": statuses,
            "listener": conn.load_balancer.get_listener(listener.id).provisioning_status,
            "secret_readable_by_octavia": octavia.id in acl["read"]["users"],
        }
    finally:
        conn.key_manager.delete_secret(secret)


def exercise_load_balancer(lab: Lab) -> dict[str, Any]:
    """As the member: create a load balancer and wait for ACTIVE (or ERROR), add a TLS
    listener when ACTIVE, delete the load balancer and wait until it is gone. The statuses
    seen on the way, and the amphorae the admin sees."""
    conn = lab.connect(lab.member_cloud)
    admin = lab.connect(lab.admin_cloud)
    lb = conn.load_balancer.create_load_balancer(
        name=f"charm-files-{uuid.uuid4().hex[:8]}", vip_subnet_id=VIP_SUBNET
    )
    result: dict[str, Any] = {"id": lb.id}
    result["create_statuses"] = follow(conn, lb.id, [lb.provisioning_status], ("ACTIVE", "ERROR"))
    result["amphorae"] = [a.status for a in admin.load_balancer.amphorae(loadbalancer_id=lb.id)]
    if result["create_statuses"][-1] == "ACTIVE":
        result.update(add_tls_listener(conn, admin, lb.id))
    conn.load_balancer.delete_load_balancer(lb.id, cascade=True)
    result["delete_statuses"] = follow(conn, lb.id, [], ("GONE", "ERROR"))
    result["amphorae_after_delete"] = [
        a.status for a in admin.load_balancer.amphorae(loadbalancer_id=lb.id)
    ]
    return result


# -- the run ---------------------------------------------------------------------------------


def conf_secrets(text: str) -> list[str]:
    """The secret values of a rendered octavia.conf (to keep them out of the report)."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read_string(text)
    words = ("password", "passphrase", "heartbeat_key")
    return [
        value
        for section in parser.sections()
        for key, value in parser.items(section)
        if any(word in key for word in words)
    ]


def charm_report(rendered: Rendered) -> dict[str, Any]:
    """What the charm did, without the files' contents."""
    return {
        "status": rendered.status,
        "files": {
            path: {"mode": f"{f.mode:04o}", "owner": f.owner, "group": f.group}
            for path, f in rendered.files.items()
        },
        "links": rendered.links,
        "commands": rendered.commands,
        "installed": rendered.installed,
        "configure_resources": rendered.resources,
    }


def run_unit(unit: OctaviaUnit, rendered: Rendered, lab: Lab, run: Run, logs: Path) -> None:
    """The charm's files on the unit: migration, apache2 and the worker, the load balancer."""
    unit.install_octavia_packages()
    unit.place(rendered.files, rendered.links)
    unit.overlay(NOOP_OVERLAY)
    charm_compute.place_overlays(unit)
    with unit.mounted():
        serve(unit, rendered, lab, run, logs)


def serve(unit: OctaviaUnit, rendered: Rendered, lab: Lab, run: Run, logs: Path) -> None:
    """On the mounted unit: the import check, the charm's commands, the two services."""
    probe = unit.run(
        [SYSTEM_PYTHON, "-c", "import octavia; print(octavia.__file__)"], as_octavia=True
    )
    run.report["octavia_module"] = probe.stdout.strip() or run.redact(probe.stderr[-500:])
    run.report["migrations"] = []
    for command in rendered.commands:
        done = unit.run(command)
        run.report["migrations"].append({"command": command, "returncode": done.returncode})
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)}: {run.redact(done.stderr[-2000:])}")
    ca = lab.ca_file
    root_url = f"{'https' if ca else 'http'}://127.0.0.1:{API_PORT}"
    with started(unit.start_apache(logs / "apache2.log")) as apache:
        wait_for(
            "Octavia's root through apache2",
            lambda: http_status(root_url, ca_file=ca) == 200,
            proc=apache,
        )
        token = lab.connect(lab.admin_cloud).auth_token
        run.report["api"] = {
            "loadbalancers": http_status(f"{root_url}/v2/lbaas/loadbalancers", token, ca),
            "wsgi_daemons": wsgi_daemons(),
            "octavia_uid": unit.uid,
        }
        if ca:
            run.report["tls"] = tls_evidence(unit, lab, rendered)
        worker_log = logs / "octavia-worker.log"
        # This worker stops before the compute path's: both would consume the same queue.
        with started(unit.start_worker(worker_log)) as worker:
            wait_for(
                "octavia-worker consuming",
                lambda: WORKER_READY_MARK in worker_log.read_text(),
                proc=worker,
            )
            lb = exercise_load_balancer(lab)
            run.report["load_balancer"] = lb
            run.report["evidence"] = {
                **evidence(unit, lab, lb["id"], worker_log),
                "worker_alive": worker.poll() is None,
                "apache_alive": apache.poll() is None,
            }
        run.report["compute"] = charm_compute.exercise(
            unit, lab, logs, rendered_value(rendered, "amp_image_tag"), VIP_SUBNET
        )


def served_certificate() -> dict[str, Any]:
    """Who issued the certificate apache2 serves on the API's port, and its names."""
    from cryptography import x509

    pem = ssl.get_server_certificate(("127.0.0.1", API_PORT), timeout=30)
    cert = x509.load_pem_x509_certificate(pem.encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {
        "issuer": cert.issuer.rfc4514_string(),
        "addresses": sorted(str(a) for a in names.get_values_for_type(x509.IPAddress)),
    }


def tls_evidence(unit: OctaviaUnit, lab: Lab, rendered: Rendered) -> dict[str, Any]:
    """The TLS lab's CA: trusted by the unit's system bundle (made from the CA file the charm
    wrote, by the update-ca-certificates it ran), by this machine's not; every CA option the
    charm rendered names that bundle."""
    assert lab.ca_file is not None
    ca = "".join(lab.ca_file.read_text().split())
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read_string(rendered.files[machine.OCTAVIA_CONF].content.decode())
    return {
        "served": served_certificate(),
        "in_unit_bundle": ca in "".join(unit.read(machine.SYSTEM_CA_BUNDLE).split()),
        "in_host_bundle": ca in "".join(Path(machine.SYSTEM_CA_BUNDLE).read_text().split()),
        "ca_options": sorted(
            {
                f"{section}.{key}={value}"
                for section in parser.sections()
                for key, value in parser.items(section)
                if key in ("cafile", "ca_certificates_file")
            }
        ),
    }


def rendered_value(rendered: Rendered, key: str, section: str = "controller_worker") -> str:
    """``[section] key`` of the charm's octavia.conf ("" when absent)."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read_string(rendered.files[machine.OCTAVIA_CONF].content.decode())
    return parser.get(section, key, fallback="")


def health_manager_ports(lab: Lab, rendered: Rendered) -> dict[str, Any]:
    """The health-manager ports the charm made in the lab's Neutron (by the charm's tag) and
    what it rendered of them in ``[health_manager]``."""
    from charmed_octavia.cloud import health_ports, tags

    admin = lab.connect(lab.admin_cloud)
    ports = [p for p in admin.network.ports(tags=tags.TAG) if health_ports.port_unit(p)]
    return {
        "rendered": {
            key: rendered_value(rendered, key, "health_manager")
            for key in ("bind_ip", "controller_ip_port_list")
        },
        "ports": [
            {
                "name": p.name,
                "network": p.network_id,
                "host": p.binding_host_id,
                "addresses": health_ports.addresses(p),
                "security_groups": p.security_group_ids,
            }
            for p in ports
        ],
    }


def cloud_resources(lab: Lab, rendered: Rendered) -> dict[str, Any]:
    """What the charm rendered for the amphorae beside what the lab's Neutron and Nova hold
    under the charm's names and tags (ids only: nothing here is secret)."""
    from charmed_octavia.cloud import tags

    admin = lab.connect(lab.admin_cloud)
    octavia = admin.identity.find_user("octavia", ignore_missing=False)
    keypair = rendered_value(rendered, "amp_ssh_key_name")
    flavor = admin.compute.find_flavor("charm-octavia", ignore_missing=True)
    return {
        "rendered": {
            key: rendered_value(rendered, key)
            for key in ("amp_boot_network_list", "amp_secgroup_list", "amp_flavor_id")
        }
        | {"amp_ssh_key_name": keypair},
        "networks": [n.id for n in admin.network.networks(tags=tags.TAG)],
        "secgroups": [g.id for g in admin.network.security_groups(tags=tags.TAG)],
        "flavor": flavor.id if flavor else "",
        "octavias_keypair": bool(
            keypair and admin.compute.find_keypair(keypair, user_id=octavia.id)
        ),
    }


def broker_lines(lab: Lab, *args: str) -> list[str]:
    """The rows ``rabbitmqctl ARGS`` lists, their columns joined by one space."""
    out = lab.broker_admin("--quiet", "--no-table-headers", *args)
    return [" ".join(line.split()) for line in out.splitlines() if line.strip()]


def evidence(unit: OctaviaUnit, lab: Lab, lb_id: str, worker_log: Path) -> dict[str, Any]:
    """That the requests went through apache2's site, and the messages through the charm's
    transport URL (its user, password and vhost) to the worker."""
    access = unit.read(f"{APACHE_LOGS}/octavia_access.log")
    queues = broker_lines(lab, "list_queues", "-p", relations.AMQP_VHOST, "name")
    return {
        # openstacksdk spells the version v2.0.
        "access_log_creates": access.count('"POST /v2.0/lbaas/loadbalancers HTTP'),
        "access_log_deletes": access.count(f'"DELETE /v2.0/lbaas/loadbalancers/{lb_id}'),
        "worker_log_mentions_lb": lb_id in worker_log.read_text(),
        "amqp_clients": sorted(set(broker_lines(lab, "list_connections", "user", "vhost"))),
        "amqp_worker_queue": "octavia_provisioning_v2" in queues,
    }


def log_tails(unit: OctaviaUnit | None, lab: Lab, logs: Path, run: Run) -> dict[str, str]:
    """The last lines of the unit's and the lab's logs, redacted."""
    tails = {
        p.name: "\n".join(p.read_text(errors="replace").splitlines()[-40:])
        for p in sorted(logs.glob("*.log"))
    }
    if unit is not None:
        for name in ("octavia_error.log", "error.log"):
            tails[name] = "\n".join(unit.read(f"{APACHE_LOGS}/{name}").splitlines()[-40:])
    for name in ("keystone", "barbican", "rabbitmq", "nova-api", "glance-api", "neutron-server"):
        tails[f"lab-{name}.log"] = lab.log_tail(name, 15)
    return {name: run.redact(text) for name, text in tails.items() if text}


def drive(work: Path, run: Run, ttl: float, tls: bool = False) -> None:
    """Steps 1 to 5 of the module docstring, filling ``run.report``."""
    prepare_namespace()
    # The lab's own directory (not under ``work``): MariaDB's socket path must stay short.
    lab = Lab(
        amqp_port=AMQP_PORT,
        octavia_port=API_PORT,
        start_octavia=False,
        ttl=ttl,
        tls=tls,
    )
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    unit: OctaviaUnit | None = None
    try:
        lab.up()
    finally:
        # Made as up() starts; the log tails of a LabError may show them.
        run.hidden += lab.passwords.values()
    with lab:
        try:
            db_password, amqp_password, passphrase = (secrets.token_urlsafe(18) for _ in "abc")
            run.hidden += [db_password, amqp_password, passphrase]
            create_accounts(lab, db_password, amqp_password)
            admin = lab.connect(lab.admin_cloud)
            project = admin.get_project("service")
            if project is None:
                raise RuntimeError("the lab has no service project")
            data = provider_data(lab, project.id, db_password, amqp_password)
            config = operator_config(passphrase) | amphora_config(ssh_public_key())
            rendered = render_with_charm(work / "charm", data, config, lab)
            conf = rendered.files.get(machine.OCTAVIA_CONF)
            run.hidden += conf_secrets(conf.content.decode()) if conf else []
            run.report["charm"] = charm_report(rendered)
            run.report["resources"] = cloud_resources(lab, rendered)
            run.report["health_manager"] = health_manager_ports(lab, rendered)
            unit = OctaviaUnit(work / "unit", lab.python.parent.parent)
            run_unit(unit, rendered, lab, run, logs)
        except BaseException:
            run.report["logs"] = log_tails(unit, lab, logs, run)
            raise
        finally:
            # Both trees hold the rendered files, passwords included.
            if not os.environ.get("LAB_KEEP_DIR"):
                shutil.rmtree(work / "charm", ignore_errors=True)
                if unit is not None:
                    unit.remove()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="charm-api")
    parser.add_argument("work", type=Path)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--tls", action="store_true", help="the TLS lab, and vault's answer")
    args = parser.parse_args(argv)

    def expired(*_: object) -> None:
        raise TimeoutError(f"the run took longer than {args.timeout:.0f}s")

    signal.signal(signal.SIGALRM, expired)
    signal.alarm(int(args.timeout))
    run = Run()
    t0 = time.monotonic()
    try:
        drive(args.work, run, ttl=args.timeout + 60, tls=args.tls)
    except BaseException as e:  # reported, with the logs, for the test to show
        run.report["error"] = run.redact(f"{type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
    run.report["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(run.report), flush=True)
    return 1 if "error" in run.report else 0


if __name__ == "__main__":
    sys.exit(main())
