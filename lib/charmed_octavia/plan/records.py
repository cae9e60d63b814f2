"""Records of test-plan runs kept in a root-only state directory, and every mark by which a
run owns what it created.

Ownership marks:
- Octavia load balancers, listeners, pools and members carry the tag
  ``charmed-octavia-run:<run-id>`` (``run_tag``); cleanup finds them by tag even without a
  record.
- The Nova flavor a run creates has the description ``charmed-octavia test plan run <id>``
  (``nova_description``); the Barbican secret is named ``<tls-secret-name>-<run-id>``
  (``secret_name``, a new one every run).
- Flavorprofiles, Octavia flavors and keypairs cannot carry a mark: the run record says which
  ones the run created.

A run writes its record before it creates anything and after every resource it creates or
reuses, so ``cleanup-test-plan`` can delete exactly what the run created even when the run
failed or its process was killed. Reused resources are recorded too (``created`` false) and
are never deleted: the plan's fixed names (m1.xxlarge, id 10, o1.xxlarge) may belong to the
operator or to another run.

Each run holds an exclusive ``flock`` on its lock file while it runs; the lock dies with the
process, so "is this run still in progress" is answered by the kernel, not by a stale record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from charmed_octavia.cloud.outcomes import InvalidParameter, shown

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,47}")
# The length of a generated run id (new_run_id): 20261201T075139-210b53.
GENERATED_RUN_ID_LENGTH = 22
RUNS_DIRNAME = "test-plan-runs"
# Octavia tag put on every load balancer, listener, pool and member of a run.
TAG_PREFIX = "charmed-octavia-run:"
# The lock every plan holds while it runs; not a valid run id, so no run's lock is named so.
PLAN_LOCK = "_plan"


def new_run_id(now: datetime.datetime | None = None) -> str:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def validate_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise InvalidParameter(
            f"run-id {shown(run_id)} must be 1-48 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return run_id


def run_tag(run_id: str) -> str:
    return f"{TAG_PREFIX}{run_id}"


def nova_description(run_id: str) -> str:
    return f"charmed-octavia test plan run {run_id}"


def secret_name(base: str, run_id: str) -> str:
    return f"{base}-{run_id}"


class RunBusy(RuntimeError):
    """Another process holds the lock of this run (or of the plan)."""


@dataclasses.dataclass
class ResourceRecord:
    kind: str
    name: str
    id: str | None = None
    created: bool = False
    # pending: a create call was (maybe) issued and its id is not known yet;
    # present: exists; deleted: gone; kept: still present after a cleanup, with the reason.
    state: str = "pending"
    note: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RunRecord:
    run_id: str
    started: str
    status: str = "running"
    finished: str | None = None
    resources: list[ResourceRecord] = dataclasses.field(default_factory=list)
    verdict: str | None = None
    report: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        data = json.loads(text)
        resources = [ResourceRecord(**r) for r in data.pop("resources", [])]
        return cls(resources=resources, **data)

    def add(self, resource: ResourceRecord) -> ResourceRecord:
        self.resources.append(resource)
        return resource

    def live(self) -> list[ResourceRecord]:
        """Resources this run created and has not yet seen deleted."""
        return [r for r in self.resources if r.created and r.state != "deleted"]


def _ensure_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is masked by umask and ignored for an existing directory.
    os.chmod(path, 0o700)


class RunStore:
    """The run records under ``<state_dir>/test-plan-runs`` (0700, files 0600)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.dir = self.state_dir / RUNS_DIRNAME

    def _prepare(self) -> None:
        _ensure_private_dir(self.state_dir)
        _ensure_private_dir(self.dir)

    def path(self, run_id: str) -> Path:
        return self.dir / f"{validate_run_id(run_id)}.json"

    def exists(self, run_id: str) -> bool:
        return self.path(run_id).exists()

    def save(self, record: RunRecord) -> None:
        self._prepare()
        target = self.path(record.run_id)
        tmp = target.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(record.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def load(self, run_id: str) -> RunRecord:
        path = self.path(run_id)
        if not path.exists():
            raise KeyError(f"no record of test-plan run {shown(run_id)} in {self.dir}")
        return RunRecord.from_json(path.read_text())

    def run_ids(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.stem for p in self.dir.glob("*.json"))

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Exclusive, non-blocking: raises RunBusy at once if another process holds it."""
        self._prepare()
        fd = os.open(self.dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EACCES):
                    raise RunBusy(f"{name} is in progress in another process") from None
                raise
            yield
        finally:
            os.close(fd)


def utcnow() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
