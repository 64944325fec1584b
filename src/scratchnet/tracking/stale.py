"""Runs a hard kill left RUNNING: each run names its process in tags, a later start ends the dead ones.

`kill -9`, an out-of-memory kill or a machine that dies gives a run no chance to end itself, so it
would show RUNNING forever. Every run opened here carries the tags below; `end_dead_runs`, called
whenever a run starts on a store, ends KILLED (tag scratchnet.killed_reason) each RUNNING run of
this host whose process is provably dead (scratchnet.tracking.process.dead_reason). Runs of live
processes, of other hosts and runs without these tags are never touched.
"""

from __future__ import annotations

import logging
import os
import time

from scratchnet.tracking.process import Process, dead_reason, this_process
from scratchnet.tracking.store import MAX_RESULTS, TrackingError, quoted_value, translated

log = logging.getLogger(__name__)

TAG_HOST = "scratchnet.host"  # socket.gethostname()
TAG_PID = "scratchnet.pid"
TAG_STARTED = "scratchnet.process_start"  # UTC, for people
TAG_PROCESS = "scratchnet.process"  # machine-id/boot-id/pid-namespace/pid/start ticks: what is compared
TAG_REASON = "scratchnet.killed_reason"  # on a run ended here: why, and who ended it


_SWEPT: set[tuple[int, str]] = set()  # (pid, store) already searched for dead runs: forked workers search anew


def process_tags() -> dict[str, str]:
    """The tags that name the calling process, for a new run."""
    me = this_process()
    return {TAG_HOST: me.host, TAG_PID: str(me.pid), TAG_STARTED: me.started_at(), TAG_PROCESS: me.key}


def end_dead_runs(client, uri: str, quiet: bool = False) -> list[str]:
    """End KILLED every RUNNING run in the store whose process is provably dead; their run ids.

    Raises TrackingError when the store cannot be searched or written; with `quiet` (housekeeping
    before a run: never a reason not to train) logs it instead.
    """
    if (os.getpid(), uri) in _SWEPT:  # once a process and store: its later runs (a sweep's jobs) need not
        return []
    _SWEPT.add((os.getpid(), uri))
    try:
        return _end_dead_runs(client, uri)
    except TrackingError as error:
        if not quiet:
            raise
        log.warning("%s; runs of dead processes may still show RUNNING", error)
        return []


def _end_dead_runs(client, uri: str) -> list[str]:
    me = this_process()
    query = f"attributes.status = 'RUNNING' and tags.`{TAG_HOST}` = {quoted_value(me.host)}"
    with translated("looking for runs left RUNNING by dead processes", uri):
        experiments = [e.experiment_id for e in client.search_experiments()]
        runs = client.search_runs(experiments, filter_string=query, max_results=MAX_RESULTS) if experiments else []
    ended = []
    for run in runs:
        owner = Process.parse(me.host, run.data.tags.get(TAG_PROCESS, ""))
        reason = dead_reason(owner, me) if owner else None
        if reason is None:
            continue
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        text = f"{reason}; ended KILLED at {when} by process {me.pid} on {me.host}"
        with translated(f"ending run {run.info.run_id} of a dead process", uri):
            client.set_tag(run.info.run_id, TAG_REASON, text)
            if "error" not in run.data.tags:  # every KILLED run says why in `error` (sweep summaries read it)
                client.set_tag(run.info.run_id, "error", f"ProcessGone: {text}")
            client.set_terminated(run.info.run_id, "KILLED")
        log.warning("run %s (%s) was left RUNNING: %s", run.info.run_id, run.info.run_name, text)
        ended.append(run.info.run_id)
    return ended
