"""The lab amphora's heartbeat bookkeeping (tests/lab/amphora/heartbeat.py) and the lab's UDP
readiness check: the parts that need no Octavia (the sender itself runs in the lab suite)."""

from __future__ import annotations

import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.lab import procs
from tests.lab.amphora import heartbeat

AMPHORA_ID = "3f1c2f0e-9a41-4c1e-8f5e-0c1d2e3f4a5b"
AGENT_CONF = """[health_manager]
controller_ip_port_list = 127.0.0.1:5555
heartbeat_interval = 3
heartbeat_key = 0123abcd

[amphora_agent]
amphora_id = 3f1c2f0e-9a41-4c1e-8f5e-0c1d2e3f4a5b
"""


def test_the_compute_name_gives_the_amphora_id_and_nothing_else():
    # Arrange / Act / Assert: the worker's "amphora-<id>"; anything else is refused.
    assert heartbeat.amphora_id_from_name(f"amphora-{AMPHORA_ID}") == AMPHORA_ID
    for name in (AMPHORA_ID, "amphora-../../etc", "amphora-", f"server-{AMPHORA_ID}"):
        with pytest.raises(ValueError, match="amphora"):
            heartbeat.amphora_id_from_name(name)


def test_an_agent_directory_is_named_by_a_uuid_under_the_amphora_root(tmp_path: Path):
    # Act
    directory = heartbeat.agent_dir(tmp_path, AMPHORA_ID.upper())
    # Assert: normalised, inside the root; a path is refused.
    assert directory == tmp_path / "agents" / AMPHORA_ID
    with pytest.raises(ValueError, match="not an amphora id"):
        heartbeat.agent_dir(tmp_path, "../outside")


def test_the_heartbeat_key_line_alone_changes():
    # Act
    changed = heartbeat.replace_heartbeat_key(AGENT_CONF, "feedface")
    # Assert
    assert "heartbeat_key = feedface\n" in changed
    assert changed.replace("feedface", "0123abcd") == AGENT_CONF


@pytest.mark.parametrize("key", ["", "two words", "key\n[DEFAULT]\ndebug = True"])
def test_a_key_that_is_not_one_word_is_refused(key: str):
    # Act / Assert: nothing can be slipped into the agent configuration.
    with pytest.raises(ValueError, match="one word"):
        heartbeat.replace_heartbeat_key(AGENT_CONF, key)


@pytest.mark.parametrize("text", ["[health_manager]\n", AGENT_CONF + "heartbeat_key = x\n"])
def test_a_configuration_without_exactly_one_key_line_is_refused(text: str):
    with pytest.raises(ValueError, match="heartbeat_key lines"):
        heartbeat.replace_heartbeat_key(text, "feedface")


def test_the_view_links_one_load_balancer_and_is_idempotent(tmp_path: Path):
    # Arrange: the lab amphora's haproxy directory with two load balancers.
    base = tmp_path / "var/lib/octavia"
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    for lb in (mine, other):
        (base / lb).mkdir(parents=True)
    agent = heartbeat.agent_dir(tmp_path, AMPHORA_ID)
    (agent / "view").mkdir(parents=True)
    # Act: twice, as every listener update does.
    heartbeat.show_load_balancer(agent, base, mine)
    heartbeat.show_load_balancer(agent, base, mine)
    # Assert: only this amphora's directory and stats socket.
    assert sorted(p.name for p in (agent / "view").iterdir()) == [mine, f"{mine}.sock"]
    assert (agent / "view" / mine).resolve() == (base / mine).resolve()


def test_a_recorded_sender_is_stopped_and_a_reused_pid_is_not_touched(tmp_path: Path):
    # Arrange: a live process recorded with its start time, and one recorded with another.
    agent = heartbeat.agent_dir(tmp_path, AMPHORA_ID)
    agent.mkdir(parents=True)
    stranger = heartbeat.agent_dir(tmp_path, str(uuid.uuid4()))
    stranger.mkdir(parents=True)
    with (
        subprocess.Popen(["sleep", "60"], start_new_session=True) as sender,
        subprocess.Popen(["sleep", "60"], start_new_session=True) as other,
    ):
        (agent / "heartbeat.pid").write_text(f"{sender.pid} {procs.start_time(sender.pid)}\n")
        (stranger / "heartbeat.pid").write_text(f"{other.pid} 1\n")
        (agent / "compute_id").write_text("compute-1")
        (stranger / "compute_id").write_text("compute-2")
        try:
            # Act: the compute deletion of compute-1, then of compute-2.
            assert heartbeat.sender_pid(agent) == sender.pid
            heartbeat.shut_down(tmp_path, "compute-1")
            sender.wait(5)
            heartbeat.shut_down(tmp_path, "compute-2")
            # Assert: the sender stopped with its directory; the process whose PID did not
            # match its record lives on (only its directory goes).
            assert sender.returncode is not None
            assert not agent.exists()
            assert other.poll() is None
            assert not stranger.exists()
        finally:
            other.kill()


def test_udp_bound_sees_a_bound_socket_only():
    # Arrange
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # Act / Assert
        assert procs.udp_bound(port)
        assert not procs.udp_bound(port, host="127.0.0.2")
    assert not procs.udp_bound(port)


def test_udp_bound_reads_the_kernel_table_format(tmp_path: Path):
    # Arrange: /proc/net/udp as an x86 kernel writes it (the address in host byte order).
    table = tmp_path / "udp"
    table.write_text("  sl  local_address rem_address   st\n  1: 0100007F:15B3 00000000:0000 07\n")
    # Act / Assert: port 0x15B3 = 5555.
    assert procs.udp_bound(5555, table=table)
    assert not procs.udp_bound(5556, table=table)
    assert not procs.udp_bound(5555, table=tmp_path / "missing")
