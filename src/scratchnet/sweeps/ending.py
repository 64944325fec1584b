"""A sweep's end in its launching process: job runs left open ended KILLED, the parent's status, the report."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from scratchnet import tracking
from scratchnet.sweeps.records import JobFailed, JobRecord, read_markers

log = logging.getLogger(__name__)

# the reason a job's run gets when it is still RUNNING once its job is over (its process is gone)
LEFT_OPEN = "the job ended without ending its run (its process was killed: SIGKILL, out of memory or its time limit)"


class JobStopped(Exception):
    """Stands for what ended a job whose process could not end its own run; its run's `error` tag."""


class JobsKilled(KeyboardInterrupt):
    """Handed to the parent run's exit when jobs were KILLED: open_run ends a run KILLED for a
    KeyboardInterrupt. Never raised."""


def close_open_runs(records: list[JobRecord], tracking_uri: str, sweep_dir: Path, reason: str) -> list[JobRecord]:
    """End KILLED every job run still RUNNING, tagged with its job.json's reason (the Slurm launcher
    writes one for a task lost from the queue) or `reason`; the records with their new status."""
    markers = read_markers(sweep_dir)
    closed = []
    for record in records:
        if record.status == "RUNNING" and record.run_id:
            error = JobStopped(markers.get(record.job, {}).get("error") or reason)
            try:
                tracking.end_run(tracking_uri, record.run_id, "KILLED", error)
            except tracking.TrackingError as end_error:
                log.warning("%s; run %s of job #%d may still show RUNNING", end_error, record.run_id, record.job)
            else:
                record = dataclasses.replace(record, status="KILLED", error=f"{JobStopped.__name__}: {error}")
        closed.append(record)
    return closed


def parent_error(records: list[JobRecord]) -> BaseException | None:
    """How the parent run ends: KILLED if any job was KILLED, FAILED if none finished, else FINISHED (None)."""
    killed = sum(r.status == "KILLED" for r in records)
    if killed:
        return JobsKilled(f"{killed} of {len(records)} jobs KILLED")
    if not any(r.status == "FINISHED" for r in records):
        return JobFailed(f"all {len(records)} jobs failed")
    return None


def report(name: str, records: list[JobRecord], summary: Path, stopped: str | None = None) -> list[str]:
    """The lines for stderr: the count and where the summary is, then each job that did not finish.

    `stopped` (e.g. "interrupted (SIGINT)") makes it one line: the sweep's jobs were stopped with it.
    """
    finished = sum(r.status == "FINISHED" for r in records)
    if stopped:
        killed = sum(r.status == "KILLED" for r in records)
        return [f"sweep {name} {stopped}: {finished} of {len(records)} started jobs finished, {killed} KILLED; "
                f"summary in {summary}"]
    lines = [f"sweep {name}: {finished} of {len(records)} jobs finished; summary in {summary}"]
    lines += [f"  job #{r.job} {r.status} ({' '.join(r.overrides)}): {r.error}" for r in records
              if r.status != "FINISHED"]
    return lines
