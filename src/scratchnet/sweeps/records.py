"""A sweep read back from MLflow: one JobRecord per job, and the parent run found by the sweep's name."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from scratchnet import tracking
from scratchnet.config.overrides import settings
from scratchnet.runs.multirun import TAG_JOB, TAG_OVERRIDES, TAG_ROLE, TAG_SWEEP

log = logging.getLogger(__name__)

MARKER_FILE = "job.json"  # in each job's Hydra folder: job number, status, error (the launcher's view)


class SweepError(Exception):
    """A sweep cannot be summarised (no such parent run, no tracking store)."""


class JobFailed(Exception):
    """Stands for an exception raised by a job before it opened its own MLflow run."""


@dataclass
class JobRecord:
    job: int
    overrides: list[str]  # as the job's run tag holds them (plumbing left out)
    status: str  # FINISHED | FAILED | KILLED | RUNNING
    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def settings(self) -> dict[str, str]:
        """{key: value} of the job's overrides, read with Hydra's override parser."""
        return settings(self.overrides)


def swept_keys(records: list[JobRecord]) -> list[str]:
    """The override keys whose value differs between jobs, in first-seen order."""
    keys: list[str] = []
    for r in records:
        keys += [k for k in r.settings() if k not in keys]
    return [k for k in keys if len({r.settings().get(k) for r in records}) > 1]


def label(record: JobRecord, keys: list[str]) -> str:
    """The job's swept settings, `key=value, ...`, or `job <n>` when nothing is swept."""
    return ", ".join(f"{k}={record.settings().get(k, '')}" for k in keys) or f"job {record.job}"


def collect(client, parent_run_id: str) -> list[JobRecord]:
    """One record per job of the sweep, by job number; the latest run wins if a job ran twice."""
    by_job: dict[int, tracking.RunRecord] = {}
    for run in tracking.find_runs(client, {"mlflow.parentRunId": parent_run_id}):
        job = run.tags.get(TAG_JOB, "")
        if not job.isdigit():
            continue
        num = int(job)
        if num not in by_job or run.start_time > by_job[num].start_time:
            if num in by_job:
                log.warning("job #%d has two runs (%s, %s): the later one is summarised", num,
                            by_job[num].run_id, run.run_id)
            by_job[num] = run
    return [JobRecord(job=num, overrides=run.tags.get(TAG_OVERRIDES, "").split(), status=run.status,
                      run_id=run.run_id, metrics=run.metrics, params=run.params,
                      error=run.tags.get("error", "").removeprefix(f"{JobFailed.__name__}: "))
            for num, run in sorted(by_job.items())]


def find_parent(client, name: str) -> tracking.RunRecord:
    """The latest parent run of the sweep called `name`."""
    runs = tracking.find_runs(client, {TAG_SWEEP: name, TAG_ROLE: "parent"}, latest_first=True, max_results=1)
    if not runs:
        raise SweepError(f"no sweep called {name!r} in the tracking store (expected a run tagged "
                         f"{TAG_SWEEP}={name}, {TAG_ROLE}=parent)")
    return runs[0]


def read_markers(sweep_dir: Path) -> dict[int, dict]:
    """{job number: job.json} of every job folder in the sweep's Hydra dir."""
    markers = (json.loads(path.read_text()) for path in sorted(Path(sweep_dir).glob(f"*/{MARKER_FILE}")))
    return {info["job"]: info for info in markers}


def with_unrecorded(records: list[JobRecord], sweep_dir: Path) -> list[JobRecord]:
    """Add the jobs the launcher ran (job.json markers) that have no run in MLflow: KILLED when the
    marker says so (a Slurm task that left the queue without a result), else FAILED."""
    known = {r.job for r in records}
    extra = []
    for num, info in read_markers(sweep_dir).items():
        if num not in known:
            reason = info["error"] or "the job finished but its MLflow run is missing"
            status = "KILLED" if info["status"] == "KILLED" else "FAILED"
            extra.append(JobRecord(job=num, overrides=info["overrides"], status=status, run_id="",
                                   error=f"{reason} (no MLflow run recorded)"))
    return sorted(records + extra, key=lambda r: r.job)
