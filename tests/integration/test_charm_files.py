"""The charm's own files run the lab's Octavia.

octavia.conf and the apache site, written by the charm (``ops.testing``) from relation data
that points at the lab's Keystone, MariaDB and RabbitMQ, migrate the lab's database, serve
octavia-api under a real apache2 with mod_wsgi, and drive octavia-worker: a load balancer
created through that API goes ACTIVE and is deleted cleanly. Only Octavia's noop drivers are
layered on the charm's octavia.conf.

The charm's configure-resources action makes the amphorae's resources in the lab's Neutron and
Nova, and the charm renders their ids; a worker on Octavia's Nova compute driver then has the
lab's Nova API accept the amphora server they describe (image from the lab's Glance), and
refuse it when the boot network is one Neutron does not have.

The run is ``tests.lab.charm_api``, inside new network, PID and mount namespaces (the site
listens on 9876 on every interface and the charm assumes RabbitMQ on 5672): it reports in
JSON, judged here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from charmed_octavia.unit import machine

from tests import unit_root
from tests.infrastructure import require
from tests.integration.conftest import lab_skip_reason
from tests.lab import charm_inputs, charm_unit, venv
from tests.lab.host import install_host_packages

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
# The driver stops itself after this; the namespace (and all in it) dies with it.
DRIVER_TIMEOUT = 600
PRIVATE = {"mode": "0640", "owner": "root", "group": "octavia"}
PUBLIC = {"mode": "0644", "owner": "root", "group": "root"}


def run_driver(work: Path, tls: bool = False) -> dict:
    """``tests.lab.charm_api`` in its namespaces; its JSON report."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / p) for p in ("lib", "charm", "")))
    argv = [
        unit_root.UNSHARE,
        "--net",
        "--pid",
        "--mount-proc",
        "--fork",
        # The namespace's first process (the driver) dies with unshare, and all of the
        # namespace's processes with it.
        "--kill-child",
        sys.executable,
        "-m",
        "tests.lab.charm_api",
        str(work),
        "--timeout",
        str(DRIVER_TIMEOUT),
        *(["--tls"] if tls else []),
    ]
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DRIVER_TIMEOUT + 60,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"the driver reported nothing (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("tls", [False, True], ids=["http", "tls-lab"])
def test_charm_rendered_files_run_octavia_under_apache(tmp_path, tls):
    # Arrange
    require(lab_skip_reason(), "the lab")
    require(unit_root.unavailable_reason(), "a unit root")
    require(charm_unit.missing_host_tools(), "apache2 with mod_wsgi")
    # Both may need the network, which the namespace has not.
    install_host_packages()
    try:
        venv_root = str(venv.ensure_venv())
    except Exception as e:  # any build failure means: cannot run here
        require(f"cannot be built here ({type(e).__name__}: {e})", "the lab's virtualenv")
        raise

    # Act
    report = run_driver(tmp_path, tls)

    # Assert
    if "error" in report:
        logs = "\n".join(f"--- {k} ---\n{v}" for k, v in report.get("logs", {}).items())
        pytest.fail(f"{report['error']}\n{logs}", pytrace=False)
    charm = report["charm"]
    # Waiting for the amphorae's resources until configure-resources made them; then, with
    # no ovn-chassis (or neutron-openvswitch) on this unit, blocked: no amphora reaches it.
    assert charm["installed"] == "waiting: Run the configure-resources action"
    assert charm["status"] == (
        "blocked: Health-manager port: no ovsdb-subordinate or neutron-openvswitch relation "
        "(amphorae cannot reach this unit)"
    )
    assert charm["files"][machine.OCTAVIA_CONF] == PRIVATE
    assert charm["files"][machine.APACHE_SITE] == PUBLIC
    mod_ssl = machine.APACHE_SSL_MODULE_LINKS if tls else {}
    assert charm["links"] == {machine.APACHE_SITE_LINK: machine.APACHE_SITE_LINK_TARGET, **mod_ssl}
    # The charm's own migration, run on the unit against the lab's MariaDB. On TLS, the trust
    # store's update before it (keystone's CA, at install) and after it (vault's, with the
    # certificate).
    if tls:
        update = list(machine.UPDATE_CA_CERTIFICATES)
        assert charm["commands"] == [update, list(machine.DB_MANAGE), update]
    else:
        assert charm["commands"] == [list(machine.DB_MANAGE)]
    if tls:
        assert_the_api_is_served_with_vaults_certificate_and_trusts_the_ca_through_the_charm(
            report
        )
    else:
        assert machine.API_CERT not in charm["files"]
    assert [m["returncode"] for m in report["migrations"]] == [0] * len(charm["commands"])
    # Debian's Python (mod_wsgi's) imports the lab venv's Octavia.
    assert report["octavia_module"].startswith(venv_root)
    api = report["api"]
    assert api["loadbalancers"] == 200
    assert api["wsgi_daemons"], "no mod_wsgi daemon process of octavia-api"
    assert set(api["wsgi_daemons"]) == {api["octavia_uid"]}
    lb = report["load_balancer"]
    assert lb["create_statuses"][-1] == "ACTIVE", lb
    assert set(lb["create_statuses"]) <= {"PENDING_CREATE", "ACTIVE"}, lb
    assert lb["amphorae"] == ["ALLOCATED"]
    # A TERMINATED_HTTPS listener: the API reads the member's Barbican secret as the
    # charm's [service_auth] user, the worker with the charm's [certificates].
    assert set(lb["listener_statuses"]) <= {"PENDING_UPDATE", "ACTIVE"}, lb
    assert (lb["listener_statuses"][-1], lb["listener"]) == ("ACTIVE", "ACTIVE"), lb
    assert lb["secret_readable_by_octavia"] is True
    # Deleted cleanly: no ERROR on the way out, gone from the API, its amphora with it.
    assert lb["delete_statuses"][-1] == "GONE", lb
    assert set(lb["delete_statuses"]) <= {"PENDING_DELETE", "GONE"}, lb
    assert lb["amphorae_after_delete"] == []
    # Through apache2's site and the charm-configured worker, both still up at the end.
    assert report["evidence"] == {
        "access_log_creates": 1,
        "access_log_deletes": 1,
        "worker_log_mentions_lb": True,
        "amqp_clients": ["octavia openstack"],
        "amqp_worker_queue": True,
        "worker_alive": True,
        "apache_alive": True,
    }
    assert_the_charms_resources_build_an_amphora_as_far_as_nova(report)
    assert_the_charm_made_its_health_manager_port(report)


def assert_the_api_is_served_with_vaults_certificate_and_trusts_the_ca_through_the_charm(
    report: dict,
) -> None:
    """Vault's certificate (issued by the TLS lab's CA for the addresses the charm asked
    for) in the charm's files and served by apache2; the lab's CA in the unit's system bundle
    and not in this machine's, and every CA option of octavia.conf naming that bundle. The
    load balancer's checks (keystonemiddleware, Barbican, Nova, Glance all over https) passed
    through that trust alone."""
    files, tls = report["charm"]["files"], report["tls"]
    assert files[machine.API_CERT] == PUBLIC
    assert files[machine.API_KEY] == {"mode": "0640", "owner": "root", "group": "root"}
    cas = [p for p in files if p.startswith(machine.CA_STORE_DIR)]
    assert cas and all(files[p] == PUBLIC for p in cas), files
    assert tls["served"] == {
        "issuer": "CN=charmed-octavia lab TLS CA",
        "addresses": ["127.0.0.1"],
    }
    assert (tls["in_unit_bundle"], tls["in_host_bundle"]) == (True, False)
    bundle = machine.SYSTEM_CA_BUNDLE
    assert tls["ca_options"] == sorted(
        [
            *(f"{s}.cafile={bundle}" for s in ("keystone_authtoken", "neutron", "service_auth")),
            *(
                f"{s}.ca_certificates_file={bundle}"
                for s in ("certificates", "cinder", "glance", "neutron", "nova")
            ),
        ]
    )


def assert_the_charm_made_its_health_manager_port(report: dict) -> None:
    """After configure-resources the unit made its health-manager port in the lab's Neutron
    (on the management network, in the health managers' group, bound to this host: no SDN
    relation). With no chassis on the unit there is no o-hm0 to carry the port's address, so
    the health manager stays on the unit's own address and lists only that
    (``test_charm_health_manager.py`` has the unit with its chassis)."""
    hm = report["health_manager"]
    (port,) = hm["ports"]
    (network,) = report["resources"]["networks"]
    assert port["name"] == "octavia-health-manager-octavia-0-listen-port"
    assert (port["network"], port["host"]) == (network, socket.gethostname())
    assert len(port["security_groups"]) == 1
    bind_ip = hm["rendered"]["bind_ip"]
    assert bind_ip not in port["addresses"]
    assert hm["rendered"]["controller_ip_port_list"] == f"{bind_ip}:5555"


def assert_the_charms_resources_build_an_amphora_as_far_as_nova(report: dict) -> None:
    """configure-resources made the resources in the lab's Neutron and Nova, the charm rendered
    their ids, and Nova accepted the amphora server they describe (and refused it with an
    unknown network: the acceptance was a validation)."""
    made = report["charm"]["configure_resources"]
    assert (made["created"], made["reused"]) == ("7", "0"), made
    resources = report["resources"]
    (network,) = resources["networks"]
    (secgroup,) = resources["secgroups"]
    assert resources["rendered"] == {
        "amp_boot_network_list": network,
        "amp_secgroup_list": secgroup,
        "amp_flavor_id": resources["flavor"],
        "amp_ssh_key_name": charm_inputs.KEYPAIR,
    }
    assert made["network"].split()[1] == network
    assert resources["octavias_keypair"] is True
    compute = report["compute"]
    accepted = compute["accepted"]
    server = accepted["server_while_waiting"]
    assert (server["status"], server["flavor"], server["key_name"], server["image"]) == (
        "BUILD",
        "charm-octavia",
        charm_inputs.KEYPAIR,
        compute["image"],
    ), accepted
    assert server["name"].startswith("amphora-")
    # No compute host: Octavia's wait for ACTIVE runs out and its revert deletes the server.
    assert accepted["statuses"] == ["PENDING_CREATE", "ERROR"], accepted
    assert accepted["reverted_compute_create"] is True, accepted
    assert accepted["server_after"] == {}
    assert accepted["nova_refused_unknown_network"] is False
    unknown = compute["unknown_network"]
    assert unknown["nova_refused_unknown_network"] is True, unknown
    assert unknown["server_while_waiting"] == {}
    assert unknown["statuses"] == ["PENDING_CREATE", "ERROR"], unknown
    assert accepted["worker_alive"] and unknown["worker_alive"]
