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
