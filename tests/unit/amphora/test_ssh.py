"""The unit's amphora key pair and the per-amphora host-key records."""

from __future__ import annotations

import stat

import asyncssh
import pytest
from charmed_octavia.amphora import ssh


def test_keypair_is_private_and_created_once(tmp_path):
    # Arrange
    directory = tmp_path / "ssh"
    # Act
    path, public = ssh.ensure_keypair(directory)
    again_path, again_public = ssh.ensure_keypair(directory)
    # Assert
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (again_path, again_public) == (path, public)
    assert public.startswith("ssh-ed25519 ")
    assert "PRIVATE" not in public


def test_keypair_tightens_a_loose_directory(tmp_path):
    directory = tmp_path / "ssh"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    ssh.ensure_keypair(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_host_keys_are_recorded_per_amphora_id(tmp_path):
    store = ssh.HostKeyStore(tmp_path / "known_hosts")
    first = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    second = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    store.record("amp-1", first)
    store.record("amp-2", second)
    assert store.get("amp-1") == first
    assert store.get("amp-2") == second
    assert store.get("amp-3") is None
    assert stat.S_IMODE((tmp_path / "known_hosts").stat().st_mode) == 0o600
    assert len((tmp_path / "known_hosts").read_text().splitlines()) == 2


def test_invalid_amphora_id_changes_nothing(tmp_path):
    store = ssh.HostKeyStore(tmp_path / "known_hosts")
    key = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    with pytest.raises(ValueError, match="invalid amphora id"):
        store.record("amp 1", key)
    assert not (tmp_path / "known_hosts").exists()


def test_unreadable_private_key_is_named_without_content(tmp_path):
    bad = tmp_path / "id"
    bad.write_text("not a key secret-material")
    with pytest.raises(ssh.SSHFailure) as info:
        ssh.load_client_key(bad)
    assert str(bad) in info.value.reason
    assert "secret-material" not in info.value.reason


def test_algorithm_choices_are_known_to_asyncssh():
    # Arrange
    from asyncssh.encryption import get_encryption_algs
    from asyncssh.kex import get_kex_algs

    # Act
    kex = {alg.decode() for alg in get_kex_algs()}
    encryption = {alg.decode() for alg in get_encryption_algs()}
    # Assert: a typo here would make every connection fail to negotiate.
    assert set(ssh.KEX_ALGS) <= kex
    assert set(ssh.ENCRYPTION_ALGS) <= encryption
    assert ssh.ENCRYPTION_ALGS[0].startswith("aes")


# -- damaged files: a failure naming the file and the way out, never a traceback --------------


def _key_line(amphora_id: str) -> str:
    key = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    return f"{amphora_id} {key.export_public_key('openssh').decode().strip()}"


@pytest.mark.parametrize(
    "damage",
    ["amp-2 ssh-ed25519 AAAA-not-base64!", "amp-2 ssh-ed25519", "amp-2 ssh-rsa AAAAB3NzaC1yc2E="],
    ids=["bad-base64", "no-key", "truncated-key"],
)
def test_corrupt_known_hosts_line_names_the_file_and_line(tmp_path, damage):
    # Arrange
    path = tmp_path / "known_hosts"
    path.write_text(f"{_key_line('amp-1')}\n{damage}\n")
    before = path.read_bytes()
    store = ssh.HostKeyStore(path)
    key = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()

    # Act
    with pytest.raises(ssh.SSHFailure) as got:
        store.get("amp-1")
    with pytest.raises(ssh.SSHFailure) as recording:
        store.record("amp-3", key)

    # Assert
    assert f"{path} line 2" in got.value.reason
    assert "delete that line" in got.value.reason
    assert recording.value.reason == got.value.reason
    assert path.read_bytes() == before  # not rewritten around the damage


def test_known_hosts_that_is_not_text_is_a_clear_failure(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(ssh.SSHFailure, match="is not UTF-8 text"):
        ssh.HostKeyStore(path).get("amp-1")


def test_known_hosts_comments_and_blank_lines_are_allowed(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text(f"# recorded by charmed-octavia\n\n{_key_line('amp-1')}\n")
    assert ssh.HostKeyStore(path).get("amp-1") is not None


@pytest.mark.parametrize("kind", ["empty", "directory", "garbage"])
def test_unusable_private_key_is_a_failure_with_a_remedy(tmp_path, kind):
    # Arrange
    path = tmp_path / "id_amphora"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-bits\n")

    # Act
    with pytest.raises(ssh.SSHFailure) as info:
        ssh.load_client_key(path)

    # Assert
    assert str(path) in info.value.reason
    assert "secret-bits" not in info.value.reason
    expected = {"empty": "is empty", "directory": "cannot be read (", "garbage": "remove it"}
    assert expected[kind] in info.value.reason


def test_a_damaged_unit_key_fails_ensure_keypair_clearly(tmp_path):
    directory = tmp_path / "ssh"
    directory.mkdir(mode=0o700)
    (directory / ssh.KEY_NAME).write_bytes(b"")
    with pytest.raises(ssh.SSHFailure, match="is empty"):
        ssh.ensure_keypair(directory)


# -- endpoints -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "shown"),
    [
        ("10.0.0.5", 22, "10.0.0.5:22"),
        ("::1", 50059, "[::1]:50059"),
        ("fc00::5", 22, "[fc00::5]:22"),
    ],
)
def test_endpoints_print_as_in_a_url(host, port, shown):
    assert ssh.format_endpoint(host, port) == shown


def test_unreachable_ipv6_amphora_is_named_with_brackets(tmp_path):
    # Arrange: a port on ::1 that nobody listens on (bound, then closed).
    import asyncio
    import socket

    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    key = asyncssh.generate_private_key("ssh-ed25519")

    # Act
    with pytest.raises(ssh.SSHFailure) as info:
        asyncio.run(
            ssh.run_commands(
                amphora_ids=["amp-1"],
                host="::1",
                port=port,
                username="ubuntu",
                client_key=key,
                host_keys=ssh.HostKeyStore(tmp_path / "known_hosts"),
                record_lock=asyncio.Lock(),
                command="true",
                connect_timeout=5,
            )
        )

    # Assert
    assert info.value.kind == "unreachable"
    assert f"[::1]:{port}" in info.value.reason
