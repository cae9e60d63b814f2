"""From the collection script's output to a verdict (no SSH: output captured as text)."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest
from charmed_octavia.amphora import check
from charmed_octavia.amphora.results import AmphoraResult

CAPTURE = Path(__file__).with_name("data") / "dmesg_oom_haproxy_reload.txt"
MEMINFO = "MemTotal:        1048576 kB\nMemFree:          900000 kB\nMemAvailable:     950000 kB\n"
PS = " 100     1 root       95596 12800 haproxy\n 101   100 nobody    701264  6500 haproxy\n"


def output(log: str, configs: str, cgroup: str = "4242 max /\n") -> str:
    return (
        f"@@section oom\n@@source dmesg\n{log}@@rc 0\n@@section ps\n{PS}"
        f"@@section meminfo\n{MEMINFO}@@section cgroup\n{cgroup}@@section configs\n"
        f"{configs}@@end\n"
    )


def cfg(cachesize: int, maxconn: int = 1562) -> str:
    return (
        "@@file /var/lib/octavia/lb/haproxy.cfg\nglobal\n    daemon\n"
        f"    maxconn {maxconn}\n    tune.ssl.cachesize {cachesize}\n"
        "frontend f\n    bind 127.0.0.1:443 ssl crt-list /x.pem\n"
    )


def judge(text: str) -> AmphoraResult:
    result = AmphoraResult("amp", "lb", "127.0.0.1:22", "error", "")
    check.interpret(result, text, "/var/lib/octavia")
    return result


def test_oom_in_log_is_oom_seen_with_the_event():
    result = judge(output(CAPTURE.read_text(), cfg(2419290)))
    assert result.verdict == "oom-seen"
    assert result.oom_events[0].victim_pid == 8733
    assert "pid 8733" in result.reason
    assert result.configs[0].formula == "pre-fix"


def test_no_oom_but_too_big_a_cache_is_at_risk():
    result = judge(output("", cfg(2419290)))
    assert result.verdict == "at-risk"
    assert "reload peak" in result.reason


def test_post_fix_size_on_the_same_memory_is_ok():
    result = judge(output("", cfg(1548344)))
    assert result.verdict == "ok", result.reason
    assert result.configs[0].formula == "post-fix"


def test_cgroup_limit_below_memtotal_is_the_memory():
    result = judge(output("", cfg(1548344), cgroup="4242 536870912 /amp\n"))
    assert result.memory_kb == 524288
    assert result.verdict == "at-risk"


def test_missing_config_is_an_error_with_the_reason():
    result = judge(output("", ""))
    assert result.verdict == "error"
    assert result.reason == "no haproxy.cfg under /var/lib/octavia"
    assert result.mem_total_kb == 1048576


def test_missing_pidof_is_an_error_not_an_empty_process_list():
    # Arrange: the collection said it could not list processes.
    text = output("", cfg(1548344)).replace("@@section ps\n", "@@section ps\n@@nopidof\n")

    # Act
    result = judge(text)

    # Assert
    assert result.verdict == "error"
    assert "pidof not found on the amphora" in result.reason


def test_collection_script_without_pidof_reports_it(tmp_path):
    # Arrange: the real script in a shell whose PATH has the usual tools but no pidof.
    import os
    import shutil
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("awk", "dmesg", "cat", "sort"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)

    # Act
    run = subprocess.run(
        # A future "since" keeps this host's own kernel log (earlier OOM kills) out of it.
        ["/bin/sh", "-s", "--", "2099-01-01 00:00:00", str(tmp_path / "octavia")],
        input=check.COLLECT_SCRIPT,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(bin_dir)},
        check=False,
    )
    result = judge(run.stdout)

    # Assert
    assert "@@nopidof" in run.stdout, run.stderr
    assert result.verdict == "error"
    assert "pidof not found on the amphora" in result.reason


def test_missing_directory_is_an_error_with_the_reason():
    result = judge(output("", "@@nodir\n"))
    assert result.reason == "/var/lib/octavia does not exist on the amphora"


def test_garbage_in_the_log_is_an_error_naming_the_line():
    garbage = "\x00\x7fgarbage\n[ 12.3] Out of memory: Killed process ??? (haproxy)\n"
    result = judge(output(garbage, cfg(1548344)))
    assert result.verdict == "error"
    assert "kernel log line 2" in result.reason


def test_truncated_output_is_an_error():
    result = judge(output("", cfg(1548344)).replace("@@end\n", ""))
    assert result.verdict == "error"
    assert "incomplete" in result.reason


NOW = datetime.datetime(2026, 2, 2, 23, 30, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-02 22:00:00", "2026-02-02 22:00:00"),
        ("2026-02-02T22:00:00Z", "2026-02-02 22:00:00"),
        ("2026-02-02T23:00:00+01:00", "2026-02-02 22:00:00"),
        ("2026-02-02", "2026-02-02 00:00:00"),
        ("-90m", "2026-02-02 22:00:00"),
        ("-1h", "2026-02-02 22:30:00"),
        ("-2d", "2026-01-31 23:30:00"),
        ("today", "2026-02-02 00:00:00"),
        ("yesterday", "2026-02-01 00:00:00"),
    ],
)
def test_since_becomes_one_utc_time_for_the_readers(text, expected):
    moment = check.parse_since(text, NOW)
    assert moment is not None
    assert check.reader_time(moment) == expected


@pytest.mark.parametrize(
    "text",
    ["'; reboot #", "notatime", "2026-02-02 22:00:00 x", "--help", "a,b", "-1h\n", "1h", " -"],
)
def test_a_since_no_reader_takes_is_refused_before_connecting(text):
    with pytest.raises(ValueError, match="is not a time"):
        check.parse_since(text, NOW)


def test_a_reader_that_fails_makes_the_amphora_an_error_not_no_oom():
    # Arrange: the reader exited 1 (an option it refuses, a journal it cannot read).
    text = output("", cfg(1548344)).replace("@@rc 0", "@@rc 1")

    # Act
    result = AmphoraResult("amp", "lb", "127.0.0.1:22", "error", "")
    check.interpret(result, text, "/var/lib/octavia", "dmesg: invalid time value")

    # Assert
    assert result.verdict == "error"
    assert "dmesg could not read the kernel log (exit 1): dmesg: invalid time value" in (
        result.reason
    )


def test_the_collection_reports_a_reader_that_fails(tmp_path):
    # Arrange: a dmesg that refuses, as util-linux's does for a time it cannot parse.
    import os
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("awk", "pidof", "cat"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    fake = bin_dir / "dmesg"
    fake.write_text('#!/bin/sh\necho "dmesg: read kernel buffer failed" >&2\nexit 1\n')
    fake.chmod(0o755)

    # Act
    run = subprocess.run(
        ["/bin/sh", "-s", "--", "2099-01-01 00:00:00", str(tmp_path / "octavia")],
        input=check.COLLECT_SCRIPT,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(bin_dir)},
        check=False,
    )
    result = AmphoraResult("amp", "lb", "127.0.0.1:22", "error", "")
    check.interpret(result, run.stdout, "/var/lib/octavia", run.stderr)

    # Assert
    assert "@@rc 1" in run.stdout
    assert result.verdict == "error"
    assert "read kernel buffer failed" in result.reason
