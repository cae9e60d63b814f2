"""The rendered octavia.conf, checked by Octavia 14.0.x's own option definitions.

The check runs in the lab's virtualenv (tests/lab/venv.py), which holds the Caracal Octavia
from PyPI; the file is rendered here, by the charm's code, from a full set of relation data.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from charmed_octavia.unit import machine, render

from tests.unit.charm_data import full_render_input

ROOT = Path(__file__).resolve().parents[2]
CHECK = Path(__file__).with_name("check_octavia_conf.py")


def _check(python: Path, conf: Path, values: tuple[str, ...] = ()) -> dict:
    argv = [str(python), str(CHECK), str(conf), *(["--value", *values] if values else [])]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _render(tmp_path: Path, *, with_tls: bool = True) -> Path:
    files = render.desired_files(full_render_input(with_tls), ROOT / "templates")
    conf = files[machine.OCTAVIA_CONF]
    assert conf is not None
    path = tmp_path / "octavia.conf"
    path.write_bytes(conf.content)
    return path


@pytest.mark.parametrize("with_tls", [True, False], ids=["amphora-tls", "no-amphora-tls"])
def test_rendered_conf_conforms_to_octavia_options(octavia_python, tmp_path, with_tls):
    # Arrange
    conf = _render(tmp_path, with_tls=with_tls)

    # Act
    report = _check(octavia_python, conf)

    # Assert
    assert report["ok"], report
    required = {
        "DEFAULT", "database", "keystone_authtoken", "service_auth", "api_settings",
        "controller_worker", "certificates", "haproxy_amphora", "health_manager",
        "house_keeping", "nova", "neutron", "glance", "cinder", "oslo_messaging",
        "oslo_messaging_rabbit", "oslo_middleware",
    }  # fmt: skip
    assert required <= set(report["sections"])
    assert report["checked_options"] >= (60 if with_tls else 50)


def test_misspelled_option_fails_the_check(octavia_python, tmp_path):
    # Arrange
    conf = _render(tmp_path)
    text = conf.read_text().replace("amp_image_tag =", "amp_image_tags =")
    conf.write_text(text)

    # Act
    report = _check(octavia_python, conf)

    # Assert
    assert not report["ok"]
    assert report["unknown_options"] == ["controller_worker.amp_image_tags"]


def test_misspelled_section_fails_the_check(octavia_python, tmp_path):
    # Arrange
    conf = _render(tmp_path)
    conf.write_text(conf.read_text().replace("[house_keeping]", "[housekeeping]"))

    # Act
    report = _check(octavia_python, conf)

    # Assert
    assert report["unknown_sections"] == ["housekeeping"]


def test_unparsable_value_fails_the_check(octavia_python, tmp_path):
    # Arrange
    conf = _render(tmp_path)
    text = conf.read_text().replace(
        "connection_max_retries = 300", "connection_max_retries = many"
    )
    conf.write_text(text)

    # Act
    report = _check(octavia_python, conf)

    # Assert
    assert report["bad_values"] == ["haproxy_amphora.connection_max_retries: ConfigFileValueError"]


def test_conf_written_by_the_charm_conforms(octavia_python, tmp_path, monkeypatch):
    # Arrange: the charm itself, driven by ops.testing with the providers' exact data.
    from ops import testing

    import charm
    from tests.unit.charm_data import (
        FULL_CONFIG,
        KEYSTONE_UNIT,
        MYSQL_ROUTER_UNIT,
        rabbit_unit,
        tls_options,
    )
    from tests.unit.fake_machine import FakeMachine

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text("UBUNTU_CODENAME=jammy\n")
    # charmhelpers' add_source reads the series from lsb-release.
    (tmp_path / "etc" / "lsb-release").write_text("DISTRIB_CODENAME=jammy\n")
    machine = FakeMachine(tmp_path)
    monkeypatch.setattr(charm.OctaviaCharm, "workload_factory", lambda: machine)
    ctx = testing.Context(charm.OctaviaCharm)
    state = testing.State(
        leader=True,
        config={**FULL_CONFIG, **tls_options()},
        relations=[
            testing.Relation("identity-service", remote_units_data={0: KEYSTONE_UNIT}),
            testing.Relation("shared-db", remote_units_data={0: MYSQL_ROUTER_UNIT}),
            testing.Relation(
                "amqp", remote_units_data={i: rabbit_unit(f"10.5.0.2{i}") for i in range(3)}
            ),
            # configure-resources found the keypair: amp_ssh_key_name is written.
            testing.PeerRelation(
                "cluster", local_app_data={"amp-ssh-keypair": "amphora-backdoor"}
            ),
        ],
    )

    # Act
    out = ctx.run(ctx.on.install(), state)
    report = _check(octavia_python, tmp_path / "etc" / "octavia" / "octavia.conf")

    # Assert
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    assert report["ok"], report
    conf = (tmp_path / "etc" / "octavia" / "octavia.conf").read_text()
    for option in (
        "amp_ssh_key_name = amphora-backdoor",
        "amp_active_retries = 240",
        "amp_active_wait_sec = 15",
        "active_connection_max_retries = 30",
        "active_connection_retry_interval = 3",
    ):
        assert option in conf


def test_values_with_dollars_spaces_and_quotes_read_back_unchanged(octavia_python, tmp_path):
    # Arrange: what a provider or an operator may put in a password or a passphrase.
    import dataclasses
    from urllib.parse import quote

    tricky = {
        "keystone": "ks$pa ss$HOME",
        "database": "db$x%y",
        "passphrase": "  lead$ing and trailing  ",
        "quoted": "'quoted'",
    }
    # The operator's passphrase of the issuing CA key; the charm makes the others itself.
    inp = full_render_input(passphrase=tricky["passphrase"])
    inp = dataclasses.replace(
        inp,
        identity=dataclasses.replace(inp.identity, password=tricky["keystone"]),
        database=dataclasses.replace(inp.database, password=tricky["database"]),
        config=dataclasses.replace(inp.config, region=tricky["quoted"]),
    )
    files = render.desired_files(inp, ROOT / "templates")
    conf = tmp_path / "octavia.conf"
    rendered = files[machine.OCTAVIA_CONF]
    assert rendered is not None
    conf.write_bytes(rendered.content)

    # Act
    report = _check(
        octavia_python,
        conf,
        (
            "keystone_authtoken.password",
            "service_auth.password",
            "certificates.ca_private_key_passphrase",
            "keystone_authtoken.region_name",
            "database.connection",
        ),
    )

    # Assert
    values = report["values"]
    assert report["ok"], report["bad_values"]
    assert values["keystone_authtoken.password"] == tricky["keystone"]
    assert values["service_auth.password"] == tricky["keystone"]
    assert values["certificates.ca_private_key_passphrase"] == tricky["passphrase"]
    assert values["keystone_authtoken.region_name"] == tricky["quoted"]
    assert f":{quote(tricky['database'], safe='')}@" in values["database.connection"]


@pytest.mark.parametrize(
    ("options", "driver", "size", "volume_type"),
    [
        ({}, "volume_noop_driver", 16, None),
        # Size and type only count with the Cinder driver: not written without it.
        ({"volume_size": 40, "volume_type": "fast"}, "volume_noop_driver", 16, None),
        ({"enable_volume_based_amphora": True}, "volume_cinder_driver", 16, None),
        (
            {"enable_volume_based_amphora": True, "volume_size": 40, "volume_type": "ceph ssd"},
            "volume_cinder_driver",
            40,
            "ceph ssd",
        ),
    ],
    ids=["default", "sized-but-disabled", "enabled", "enabled-sized-typed"],
)
def test_volume_based_amphora_options_read_back_as_octavia_reads_them(
    octavia_python, tmp_path, options, driver, size, volume_type
):
    # Arrange
    import dataclasses

    inp = full_render_input()
    inp = dataclasses.replace(inp, config=dataclasses.replace(inp.config, **options))
    rendered = render.desired_files(inp, ROOT / "templates")[machine.OCTAVIA_CONF]
    assert rendered is not None
    conf = tmp_path / "octavia.conf"
    conf.write_bytes(rendered.content)

    # Act
    report = _check(
        octavia_python,
        conf,
        ("controller_worker.volume_driver", "cinder.volume_size", "cinder.volume_type"),
    )

    # Assert
    assert report["ok"], report["bad_values"]
    values = report["values"]
    assert values["controller_worker.volume_driver"] == driver
    assert values["cinder.volume_size"] == size
    assert values["cinder.volume_type"] == volume_type
