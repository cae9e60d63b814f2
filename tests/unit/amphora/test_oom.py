"""The kernel OOM parser on real captured output and on the bug report's lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from charmed_octavia.amphora import oom

CAPTURE = Path(__file__).with_name("data") / "dmesg_oom_haproxy_reload.txt"

# The task-table lines quoted in LP #2119987 (journalctl short format, kernel 5.15).
BUG_QUOTE = """\
Feb 02 22:34:24 amphora-f9436cbb-bfa8-41e0-b1fc-a4bd7855bf3d kernel: [   2055] 65534  2055  4739383     2824   126976        0             0 haproxy
Feb 02 22:34:24 amphora-f9436cbb-bfa8-41e0-b1fc-a4bd7855bf3d kernel: [   2074]     0  2074  4687328  3373674 27123712        0             0 haproxy
"""  # noqa: E501


def test_real_dmesg_capture_of_a_haproxy_reload_kill():
    # Arrange
    text = CAPTURE.read_text()
    # Act
    (event,) = oom.parse_kernel_log(text)
    # Assert: values as printed by this machine's kernel (6.x task table, pages -> KiB).
    assert event.killed and event.cgroup_oom
    assert (event.victim_pid, event.victim_name) == (8733, "haproxy")
    assert event.total_vm_kb == 580480
    assert (event.anon_rss_kb, event.file_rss_kb, event.shmem_rss_kb) == (2944, 10876, 292480)
    assert event.constraint == "CONSTRAINT_MEMCG"
    assert event.memcg and event.memcg.endswith("/hxprobe")
    assert event.time == "2026-11-21T13:07:40,942281+00:00"
    assert [t.pid for t in event.tasks] == [8733, 8736]
    assert event.tasks[0].rss_shmem_kb == 73120 * 4
    assert event.tasks[1].total_vm_kb == 145430 * 4


def test_the_bugs_task_table_lines_in_pages():
    (event,) = oom.parse_kernel_log(BUG_QUOTE)
    assert not event.killed
    old, new = event.tasks
    assert (old.pid, old.uid, old.total_vm_kb, old.rss_kb) == (2055, 65534, 4739383 * 4, 2824 * 4)
    assert (new.pid, new.uid, new.rss_kb) == (2074, 0, 3373674 * 4)
    assert new.pgtables_bytes == 27123712
    assert event.time == "Feb 02 22:34:24"


def test_journalctl_short_iso_summary_line():
    text = (
        "2026-02-02T22:34:24+0000 amphora kernel: Out of memory: Killed process 2074 (haproxy) "
        "total-vm:18749312kB, anon-rss:1234kB, file-rss:0kB, shmem-rss:13493000kB, UID:0 "
        "pgtables:26488kB oom_score_adj:0\n"
    )
    (event,) = oom.parse_kernel_log(text)
    assert event.victim_pid == 2074 and not event.cgroup_oom
    assert event.shmem_rss_kb == 13493000
    assert event.time == "2026-02-02T22:34:24+0000"


def test_two_kills_are_two_events():
    text = CAPTURE.read_text()
    assert len(oom.parse_kernel_log(text + text)) == 2


def test_no_oom_in_ordinary_log():
    assert oom.parse_kernel_log("[    1.0] EXT4-fs (vda): mounted\nrandom: crng reseeded\n") == []


@pytest.mark.parametrize(
    "line",
    [
        "[  100.1] Out of memory: Killed process 12 (haproxy) garbage",
        "[  100.1] Memory cgroup out of memory: Killed process x (haproxy) total-vm:1kB",
        "Feb 02 22:34:24 amp kernel: [   2055] 65534  2055  47x9383 haproxy oom-kill:",
    ],
)
def test_garbled_oom_lines_are_errors_naming_the_line(line):
    with pytest.raises(oom.KernelLogError, match="kernel log line 2"):
        oom.parse_kernel_log("[    1.0] boot\n" + line + "\n")
