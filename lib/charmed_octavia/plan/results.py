"""What a test-plan run reports: one ``StepResult`` per step and the ``PlanResult`` of the
run, whose ``to_dict`` the report, the action's results and the run record carry."""

from __future__ import annotations

import dataclasses
from typing import Any


class StepFailed(Exception):
    """Raised inside a step: the plan stops, cleans up and reports this message."""


@dataclasses.dataclass
class StepResult:
    name: str
    title: str
    status: str = "not-run"  # ok, reused, skipped, warning, failed, not-run
    seconds: float = 0.0
    evidence: str = ""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "evidence": self.evidence,
            "details": self.details,
        }


@dataclasses.dataclass
class PlanResult:
    run_id: str
    verdict: str
    verdict_reason: str
    steps: list[StepResult]
    started: str
    finished: str
    seconds: float
    environment: dict[str, Any]
    parameters: dict[str, Any]
    failed_step: str | None = None
    failure: str | None = None
    amphorae: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    cleanup: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bug": "LP #2119987",
            "run_id": self.run_id,
            "verdict": self.verdict,
            "verdict_reason": self.verdict_reason,
            "failed_step": self.failed_step,
            "failure": self.failure,
            "started": self.started,
            "finished": self.finished,
            "seconds": round(self.seconds, 2),
            "environment": self.environment,
            "parameters": self.parameters,
            "steps": [s.to_dict() for s in self.steps],
            "amphorae": self.amphorae,
            "cleanup": self.cleanup,
        }
