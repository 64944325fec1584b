"""Per-process time split of a pipeline stage: imports, config, data, training, tracking, plots, outputs.

Loaded by Python at start-up (`sitecustomize`) when benchmarks/stage_timer is on PYTHONPATH and
$SCRATCHNET_STAGE_TIMES names a file; benchmarks/pipeline.py sets both around `dvc repro`. Nothing
in the package changes: functions are wrapped as their modules finish loading, and every second of
the process is charged to exactly one category, the innermost one running (an import made inside a
tracking call counts as an import). At exit one JSON line is appended to the file.
"""

from __future__ import annotations

import os

if os.environ.get("SCRATCHNET_STAGE_TIMES"):
    import atexit
    import functools
    import importlib._bootstrap as bootstrap
    import json
    import sys
    import time

    def _process_age() -> float:
        """Seconds since this process started (/proc: clock ticks since boot)."""
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))

    _totals: dict[str, float] = {"imports": _process_age()}  # the interpreter's own start counts as imports
    _stack = ["other"]
    _last = [time.perf_counter()]
    _start = _last[0] - _totals["imports"]

    def _switch(push: str | None) -> None:
        now = time.perf_counter()
        _totals[_stack[-1]] = _totals.get(_stack[-1], 0.0) + now - _last[0]
        _last[0] = now
        if push is None:
            _stack.pop()
        else:
            _stack.append(push)

    def timed(category: str, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            _switch(category)
            try:
                return fn(*args, **kwargs)
            finally:
                _switch(None)
        wrapper.__stage_timed__ = True
        return wrapper

    class _TimedContext:
        """A context manager whose enter and exit are charged to `category`, its body not."""

        def __init__(self, category, cm):
            self.category, self.cm = category, cm

        def __enter__(self):
            return timed(self.category, self.cm.__enter__)()

        def __exit__(self, *exc):
            return timed(self.category, self.cm.__exit__)(*exc)

    def timed_context(category: str, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return _TimedContext(category, timed(category, fn)(*args, **kwargs))
        wrapper.__stage_timed__ = True
        return wrapper

    # module -> {attribute: category}; "Class.*" wraps every public method of a class; "=cm" a context manager
    TARGETS = {
        "hydra._internal.config_loader_impl": {"ConfigLoaderImpl.load_configuration": "config"},
        "scratchnet.config.validate": {"validate": "config"},
        "scratchnet.data.registry": {"load_data": "data"},
        "scratchnet.data.cat": {"load_cat": "data"},
        "scratchnet.data.football": {"load_football": "data"},
        "scratchnet.data.dataset": {"load_dataset": "data"},
        "scratchnet.runs.build": {"build_network": "training", "fit_network": "training"},
        "scratchnet.runs.train": {"evaluate": "training"},
        "scratchnet.runs.outputs": {"write_outputs": "outputs", "_swap": "outputs"},
        "scratchnet.tracking.store": {"connect": "tracking", "get_or_create_experiment": "tracking",
                                      "prepare_store": "tracking", "find_runs": "tracking",
                                      "metric_history": "tracking", "download_artifacts": "tracking"},
        "scratchnet.tracking.provenance": {"provenance_tags": "tracking"},
        "scratchnet.tracking.run": {"RunLog.*": "tracking", "existing_run": "tracking", "open_run=cm": "tracking"},
        "scratchnet.reports.plots": {"*": "plots"},
        "scratchnet.reports.document": {"Document.write": "outputs"},
        "scratchnet.files": {"write_json": "outputs", "write_csv": "outputs", "write_text": "outputs"},
        "scratchnet.models": {"save_model": "outputs", "load_model": "data"},
        "scratchnet.stages.generate": {"main": "data"},
        "multiprocessing.util": {"_exit_function": "other"},  # a forked worker's way out: report there
    }

    def _wrap(module) -> None:
        if module.__name__ == "multiprocessing.util":
            exit_function = module._exit_function

            def reporting_exit(*args, **kwargs):
                _report()
                return exit_function(*args, **kwargs)
            module._exit_function = reporting_exit
            return
        for spec, category in TARGETS[module.__name__].items():
            if spec == "*":
                for name, value in list(vars(module).items()):
                    if callable(value) and not name.startswith("_") and getattr(value, "__module__", "") == \
                            module.__name__ and not isinstance(value, type):
                        setattr(module, name, timed(category, value))
            elif spec.endswith(".*"):
                cls = getattr(module, spec[:-2])
                for name, value in list(vars(cls).items()):
                    if callable(value) and not name.startswith("_"):
                        setattr(cls, name, timed(category, value))
            elif spec.endswith("=cm"):
                name = spec[:-3]
                setattr(module, name, timed_context(category, getattr(module, name)))
            elif "." in spec:
                cls_name, name = spec.split(".")
                cls = getattr(module, cls_name)
                setattr(cls, name, timed(category, getattr(cls, name)))
            else:
                setattr(module, spec, timed(category, getattr(module, spec)))

    _original_find_and_load = bootstrap._find_and_load

    def _find_and_load(name, import_):
        _switch("imports")
        try:
            module = _original_find_and_load(name, import_)
        finally:
            _switch(None)
        if name in TARGETS and not getattr(module, "__stage_timer_wrapped__", False):
            module.__stage_timer_wrapped__ = True
            _wrap(module)
        return module

    bootstrap._find_and_load = _find_and_load

    _children: list[dict] = []  # the commands this process ran and how long each took (DVC's stages)

    def _watch_children() -> None:
        import subprocess

        init, handle = subprocess.Popen.__init__, subprocess.Popen._handle_exitstatus

        def popen_init(self, args, *rest, **kwargs):
            self.__stage_timer_started__ = time.time()
            init(self, args, *rest, **kwargs)

        def handle_exitstatus(self, *args, **kwargs):
            result = handle(self, *args, **kwargs)
            if hasattr(self, "__stage_timer_started__"):
                _children.append({"args": self.args if isinstance(self.args, str) else " ".join(map(str, self.args)),
                                  "start": self.__stage_timer_started__, "end": time.time()})
                del self.__stage_timer_started__
            return result

        subprocess.Popen.__init__, subprocess.Popen._handle_exitstatus = popen_init, handle_exitstatus

    _watch_children()

    _reported: set[int] = set()
    _forked = [False]

    def _after_fork() -> None:
        """A forked worker starts its own account (the parent's time stays the parent's)."""
        _totals.clear()
        _stack[:] = ["other"]
        _children.clear()
        _forked[0] = True
        now = time.perf_counter()
        _last[0] = now
        globals()["_start"] = now

    os.register_at_fork(after_in_child=_after_fork)

    def _report() -> None:
        if os.getpid() in _reported:
            return
        _reported.add(os.getpid())
        _switch("other")
        wall = time.perf_counter() - _start
        cpu = os.times()
        line = {"argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]] if sys.argv else [],
                "pid": os.getpid(), "wall": wall, "cpu": cpu.user + cpu.system, "split": _totals,
                "start": time.time() - wall, "end": time.time(), "children": _children, "forked": _forked[0],
                "ppid": os.getppid()}
        with open(os.environ["SCRATCHNET_STAGE_TIMES"], "a") as f:
            f.write(json.dumps(line) + "\n")

    atexit.register(_report)
