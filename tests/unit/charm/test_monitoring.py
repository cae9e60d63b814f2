"""ops.testing of nrpe-external-master: the check files on the machine, the ``monitors`` the
nrpe charm reads, nagios in the octavia group, and nothing rewritten on the next hook."""

from __future__ import annotations

import dataclasses

import yaml
from ops import testing

from tests.unit.charm.states import full_state
from tests.unit.charm_data import b64, vault_issued

NRPE_D = "etc/nagios/nrpe.d"
EXPORT = "var/lib/nagios/export"
SERVICES = ["octavia-worker", "octavia-health-manager", "octavia-housekeeping", "apache2"]
AMPHORA_CERTS = ["cert_issuing_ca", "cert_controller_ca", "cert_controller_cert"]


def nrpe_relation(**data: str) -> testing.SubordinateRelation:
    """The nrpe subordinate on this unit's machine (it sets nagios_hostname)."""
    return testing.SubordinateRelation(
        "nrpe-external-master", remote_app_name="nrpe", remote_unit_data=data
    )


def nrpe_installed(machine) -> None:
    """What the nrpe charm leaves on the machine: nagios-nrpe-server's directories, the
    nagios user; the octavia group from the Octavia packages."""
    for path in (NRPE_D, EXPORT):
        (machine.root / path).mkdir(parents=True)
    (machine.root / "etc/passwd").write_text(
        "root:x:0:0::/root:/bin/bash\nnagios:x:110:118::/var/lib/nagios:/usr/sbin/nologin\n"
    )
    (machine.root / "etc/group").write_text("root:x:0:\nnagios:x:118:\noctavia:x:119:\n")


def test_checks_for_services_and_amphora_certificates(ctx, machine):
    # Arrange
    nrpe_installed(machine)
    state = full_state()
    state = dataclasses.replace(
        state, relations=[*state.relations, nrpe_relation(nagios_hostname="juju-octavia-0")]
    )

    # Act
    out = ctx.run(ctx.on.install(), state)

    # Assert
    written = sorted(p.name for p in (machine.root / NRPE_D).iterdir())
    assert written == sorted(f"check_{n}.cfg" for n in SERVICES + AMPHORA_CERTS)
    cert = (machine.root / NRPE_D / "check_cert_controller_cert.cfg").read_text()
    assert cert.endswith(
        "command[check_cert_controller_cert]=/usr/local/lib/nagios/plugins/"
        "check_octavia_cert.sh 14 30 /etc/octavia/certs/controller_cert.pem\n"
    )
    exported = sorted(p.name for p in (machine.root / EXPORT).iterdir())
    assert "service__juju-octavia-0_check_apache2.cfg" in exported
    plugin = machine.root / "usr/local/lib/nagios/plugins/check_octavia_cert.sh"
    assert plugin.stat().st_mode & 0o777 == 0o755
    rel = next(r for r in out.relations if r.endpoint == "nrpe-external-master")
    monitors = yaml.safe_load(rel.local_unit_data["monitors"])
    assert sorted(monitors["monitors"]["remote"]["nrpe"]) == sorted(SERVICES + AMPHORA_CERTS)
    assert monitors["monitors"]["remote"]["nrpe"]["apache2"] == {"command": "check_apache2"}
    assert rel.local_unit_data["primary"] == "True"
    assert ("run", "gpasswd", "-a", "nagios", "octavia") in machine.calls
    assert ("systemctl", "restart", "nagios-nrpe-server") in machine.calls


def test_next_hook_rewrites_and_restarts_nothing(ctx, machine):
    # Arrange
    nrpe_installed(machine)
    state = full_state()
    state = dataclasses.replace(state, relations=[*state.relations, nrpe_relation()])
    out = ctx.run(ctx.on.install(), state)
    (machine.root / "etc/group").write_text("nagios:x:118:\noctavia:x:119:nagios\n")
    machine.calls.clear()

    # Act
    ctx.run(ctx.on.update_status(), out)

    # Assert
    assert machine.mutations() == []


def test_api_certificate_gets_its_check_and_options_change_the_thresholds(ctx, machine):
    # Arrange
    # The API on TLS (the ssl_* options): the charm writes the certificate the check reads.
    issued = vault_issued("octavia.example.com")
    tls = {"ssl_cert": b64(issued["cert"]), "ssl_key": b64(issued["key"])}
    nrpe_installed(machine)
    state = full_state(config=tls)
    state = dataclasses.replace(state, relations=[*state.relations, nrpe_relation()])
    out = ctx.run(ctx.on.install(), state)
    machine.calls.clear()

    # Act
    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(out, config={**tls, "tls_warn_days": 60, "tls_crit_days": 7}),
    )

    # Assert
    api_check = (machine.root / NRPE_D / "check_cert_api.cfg").read_text()
    assert api_check.endswith("check_octavia_cert.sh 7 60 /etc/apache2/ssl/octavia/cert.pem\n")
    assert "hostname" not in api_check
    assert machine.calls_of("systemctl") == [("systemctl", "restart", "nagios-nrpe-server")]


def test_without_nrpe_on_the_machine_nothing_is_written(ctx, machine):
    # Arrange: the relation before the nrpe charm has installed nagios-nrpe-server.
    state = full_state()
    state = dataclasses.replace(state, relations=[*state.relations, nrpe_relation()])

    # Act
    out = ctx.run(ctx.on.install(), state)

    # Assert
    assert not (machine.root / "etc/nagios").exists()
    rel = next(r for r in out.relations if r.endpoint == "nrpe-external-master")
    assert "monitors" not in rel.local_unit_data


def test_relation_broken_removes_the_checks(ctx, machine):
    # Arrange
    nrpe_installed(machine)
    state = full_state()
    rel = nrpe_relation()
    out = ctx.run(ctx.on.install(), dataclasses.replace(state, relations=[*state.relations, rel]))

    assert len(list((machine.root / NRPE_D).iterdir())) == 7

    # Act
    ctx.run(ctx.on.relation_broken(next(r for r in out.relations if r.id == rel.id)), out)

    # Assert
    assert list((machine.root / NRPE_D).iterdir()) == []
    assert list((machine.root / EXPORT).iterdir()) == []


def test_invalid_nagios_context_blocks(ctx, machine):
    # Act
    out = ctx.run(ctx.on.config_changed(), full_state(config={"nagios_context": "a/b"}))

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Invalid config: nagios_context 'a/b' is not [A-Za-z0-9_.-]+"
    )
