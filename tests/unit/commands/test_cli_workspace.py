"""octavia-sru's workspace: its options read into SSH settings and the plan's facts."""

from __future__ import annotations

import argparse
import logging
import stat
from pathlib import Path

import pytest
import requests
from charmed_octavia.amphora import ssh
from charmed_octavia.commands import cli_cloud, cli_options, cli_workspace

from tests.unit.loopback_cloud import answering


def _args(tmp_path, **given) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli_options.add_own_options(parser, suppress=False)
    args = parser.parse_args([])
    args.state_dir = tmp_path / "state"
    for key, value in given.items():
        setattr(args, key, value)
    return args


def _no_connection():
    raise AssertionError("the workspace connects only when a command asks")


REGION = cli_cloud.Cloud("c (https://keystone.example:5000/v3, region RegionOne)", _no_connection)


def test_without_a_key_the_plan_makes_one_in_the_state_directory_and_uploads_its_half(tmp_path):
    # Arrange
    ws = cli_workspace.make_workspace(_args(tmp_path), REGION, lambda line: None)

    # Act
    ctx = ws.plan_context(lambda line: None)

    # Assert
    key = tmp_path / "state" / "ssh" / ssh.KEY_NAME
    assert ctx.public_key == ssh.public_key_line(key)
    assert ctx.amphora_ssh is not None and ctx.amphora_ssh.private_key_path == key
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert ctx.state_dir == ws.state_dir == tmp_path / "state" / "runs"
    assert ctx.cloud_label == "c (https://keystone.example:5000/v3, region RegionOne)"


def test_a_given_key_user_known_hosts_and_address_reach_the_ssh_settings(tmp_path):
    # Arrange
    key, public = ssh.ensure_keypair(tmp_path / "mine")
    args = _args(
        tmp_path,
        ssh_key=key,
        ssh_user="root",
        known_hosts=tmp_path / "kh",
        ssh_address=["192.0.2.1=127.0.0.1:2222", "2001:db8::5=[::1]:22"],
    )
    ws = cli_workspace.make_workspace(args, REGION, lambda line: None)

    # Act
    settings = ws.ssh()
    ctx = ws.plan_context(lambda line: None)

    # Assert
    assert settings.private_key_path == key and settings.username == "root"
    assert settings.known_hosts_path == tmp_path / "kh"
    assert settings.endpoint("192.0.2.1") == ("127.0.0.1", 2222)
    assert settings.endpoint("2001:db8::5") == ("::1", 22)
    assert settings.endpoint("192.0.2.9") == ("192.0.2.9", 22)
    assert ctx.public_key == public
    assert not (tmp_path / "state" / "ssh").exists()  # no key of its own was made


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"ssh_address": ["192.0.2.1"]}, "--ssh-address '192.0.2.1': give LB_NETWORK_IP=HOST"),
        ({"ssh_address": ["x=h:22"]}, "--ssh-address 'x=h:22'"),
        ({"ssh_address": ["192.0.2.1=h:0"]}, "--ssh-address '192.0.2.1=h:0'"),
        ({"package_version": ["octavia"]}, "--package-version 'octavia': give NAME=VERSION"),
        ({"ssh_key": Path("/nonexistent/key")}, "--ssh-key /nonexistent/key: no such file"),
    ],
)
def test_an_unusable_option_is_a_usage_error(tmp_path, given, says):
    # Act
    with pytest.raises(cli_workspace.UsageError) as caught:
        cli_workspace.make_workspace(_args(tmp_path, **given), REGION, print)

    # Assert
    assert str(caught.value).startswith(says)


def test_check_without_any_key_says_how_to_get_one(tmp_path):
    # Arrange
    ws = cli_workspace.make_workspace(_args(tmp_path), REGION, print)

    # Act
    with pytest.raises(FileNotFoundError) as caught:
        ws.ssh()

    # Assert
    assert "pass --ssh-key with the private key of the amphora keypair" in str(caught.value)


def test_the_keypair_name_comes_from_octavia_conf_unless_given(tmp_path):
    # Arrange
    conf = tmp_path / "octavia.conf"
    conf.write_text("[controller_worker]\namp_ssh_key_name = octavia-key\n")
    unreadable = tmp_path / "dir"
    unreadable.mkdir()
    notes: list[str] = []

    # Act
    from_conf = cli_workspace.amp_ssh_key_name(_args(tmp_path, octavia_conf=conf), notes.append)
    given = cli_workspace.amp_ssh_key_name(
        _args(tmp_path, octavia_conf=conf, amp_ssh_key_name="mine"), notes.append
    )
    missing = cli_workspace.amp_ssh_key_name(
        _args(tmp_path, octavia_conf=tmp_path / "none"), notes.append
    )
    bad = cli_workspace.amp_ssh_key_name(_args(tmp_path, octavia_conf=unreadable), notes.append)

    # Assert
    assert (from_conf, given, missing, bad) == ("octavia-key", "mine", "", "")
    assert notes == [f"{unreadable} not read (IsADirectoryError): pass --amp-ssh-key-name"]


def test_verbose_http_lines_have_method_url_and_status_never_a_body_or_query(caplog, monkeypatch):
    # Arrange: a real HTTP exchange on 127.0.0.1 through the hook octavia-sru installs.
    monkeypatch.setattr(cli_cloud.HTTP_LOG, "propagate", True)  # main() may have turned it off
    caplog.set_level(logging.INFO, logger=cli_cloud.HTTP_LOG.name)
    session = requests.Session()
    session.hooks["response"].append(cli_cloud._log_call)

    # Act
    with answering(201, {"secret_ref": "s3cr3t-answer"}) as port:
        session.post(
            f"http://127.0.0.1:{port}/v1/secrets?name=q-value",
            json={"payload": "PRIVATE-KEY-BYTES"},
            headers={"X-Auth-Token": "tok-123"},
        )

    # Assert
    (record,) = caplog.records
    text = record.getMessage()
    assert text.startswith(f"HTTP POST http://127.0.0.1:{port}/v1/secrets -> 201 (")
    for secret in ("PRIVATE-KEY-BYTES", "tok-123", "s3cr3t-answer", "q-value"):
        assert secret not in text


def _service_user_args(conf: Path, **given) -> argparse.Namespace:
    values = {
        "octavia_service_user": True,
        "octavia_conf": conf,
        "os_region_name": None,
        "os_interface": None,
        "os_cacert": None,
        "insecure": False,
    }
    return argparse.Namespace(**(values | given))


def test_octavia_service_user_connects_with_the_credentials_the_charm_rendered(tmp_path):
    # Arrange: octavia.conf as the charm renders it (the relation's password has "/" and ":").
    from charmed_octavia.unit import machine, render

    from tests.unit.charm_data import FULL_CONFIG, KEYSTONE_PASSWORD, full_render_input

    templates = Path(__file__).resolve().parents[3] / "templates"
    conf = tmp_path / "octavia.conf"
    rendered = render.desired_files(full_render_input(), templates)[machine.OCTAVIA_CONF]
    assert rendered is not None
    conf.write_bytes(rendered.content)

    # Act
    cloud = cli_cloud.choose(_service_user_args(conf))
    conn = cloud.open()

    # Assert: a real connection (no request made) as the identity-service relation's user.
    auth = conn.config.config["auth"]
    assert (auth["username"], auth["password"]) == ("octavia", KEYSTONE_PASSWORD)
    assert (auth["project_name"], auth["user_domain_name"]) == ("services", "service_domain")
    assert auth["auth_url"].startswith("http://10.5.0.11:5000")
    assert conn.config.region_name == FULL_CONFIG["region"] == "RegionTwo"
    assert KEYSTONE_PASSWORD not in cloud.label and "octavia" not in cloud.label.split("(")[1]


@pytest.mark.parametrize("password", ["pa$$word", " spaced ", "'quoted'", "$HOME/x:y"])
def test_a_password_reads_back_as_the_charm_wrote_it(password):
    # Arrange
    from charmed_octavia.unit.render import oslo_value

    # Act / Assert
    assert cli_cloud.oslo_text(oslo_value(password)) == password


def test_octavia_service_user_without_a_readable_conf_or_credentials_says_why(tmp_path):
    # Arrange
    partial = tmp_path / "octavia.conf"
    partial.write_text("[service_auth]\nauth_url = http://k:5000\nusername = octavia\n")

    # Act
    with pytest.raises(cli_cloud.CloudChoiceError) as unreadable:
        cli_cloud.choose(_service_user_args(tmp_path / "none.conf"))
    with pytest.raises(cli_cloud.CloudChoiceError) as lacking:
        cli_cloud.choose(_service_user_args(partial))

    # Assert
    assert "none.conf cannot be read (No such file or directory)" in str(unreadable.value)
    assert str(lacking.value) == (
        f"--octavia-service-user: [service_auth] of {partial} lacks password, project_name, "
        "user_domain_name, project_domain_name"
    )
