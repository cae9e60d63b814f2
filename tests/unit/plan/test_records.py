"""The run records: private files, the lock that dies with its process, run ids."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from charmed_octavia.cloud.outcomes import InvalidParameter
from charmed_octavia.plan import records


def test_records_are_private_and_round_trip(tmp_path):
    # Arrange
    store = records.RunStore(tmp_path / "state")
    record = records.RunRecord(run_id="r-1", started="now")
    record.add(records.ResourceRecord(kind="keypair", name="k", created=True))

    # Act
    store.save(record)
    loaded = store.load("r-1")

    # Assert
    assert loaded == record
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path("r-1")).st_mode) == 0o600
    assert store.run_ids() == ["r-1"]


def test_live_lists_only_created_and_not_deleted():
    # Arrange
    record = records.RunRecord(run_id="r", started="now")
    created = record.add(records.ResourceRecord("a", "a", "1", created=True, state="present"))
    record.add(records.ResourceRecord("b", "b", "2", created=False, state="present"))
    record.add(records.ResourceRecord("c", "c", "3", created=True, state="deleted"))
    kept = record.add(records.ResourceRecord("d", "d", "4", created=True, state="kept"))

    # Act / Assert
    assert record.live() == [created, kept]


def test_a_held_lock_is_refused_and_released_when_its_process_dies(tmp_path):
    # Arrange: another process takes the run's lock and waits.
    store = records.RunStore(tmp_path)
    code = (
        "import sys, time; sys.path.insert(0, 'lib');"
        "from charmed_octavia.plan.records import RunStore;"
        f"s = RunStore({str(tmp_path)!r});"
        "cm = s.lock('r'); cm.__enter__(); print('held', flush=True); time.sleep(30)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"

        # Act / Assert: busy while the holder lives...
        with pytest.raises(records.RunBusy), store.lock("r"):
            pass
    finally:
        holder.kill()
        holder.wait()
    # ...and free once it is gone (the kernel drops the flock with the process).
    with store.lock("r"):
        pass


@pytest.mark.parametrize("run_id", ["", "a/b", "..", "_plan", "x" * 49, "a b"])
def test_invalid_run_ids(run_id):
    with pytest.raises(InvalidParameter):
        records.validate_run_id(run_id)


def test_generated_run_ids_are_valid_and_distinct():
    ids = {records.new_run_id() for _ in range(20)}
    assert len(ids) == 20
    for run_id in ids:
        records.validate_run_id(run_id)


@pytest.mark.parametrize("run_id", ["run1\n", "run1\r", "run\x001"])
def test_a_run_id_with_a_trailing_newline_or_nul_is_refused(run_id):
    with pytest.raises(InvalidParameter):
        records.validate_run_id(run_id)
