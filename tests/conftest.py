"""Shared fixtures: where the DVC-tracked raw data sits in this checkout, and the real engines of the
`cluster` tests (a Slurm cluster, PostgreSQL, an MLflow server on it), started once per session."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REPORT = pytest.StashKey[list]()  # lines for the end of the run: start-up times, what the sweeps sent


@pytest.fixture(scope="session")
def data_root() -> Path:
    """`<repo>/data/raw`; a missing folder is a failure, not a skip: CI runs `dvc pull` first."""
    root = REPO / "data" / "raw"
    if not (root / "cat" / "train_catvnoncat.h5").is_file():
        pytest.fail(f"{root} has no raw data: run `make data` (dvc pull) before the tests")
    return root


@pytest.fixture(scope="session")
def report(pytestconfig) -> list[str]:
    """Append a line here to have it printed in pytest's summary (timings, counts)."""
    return pytestconfig.stash.setdefault(REPORT, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    lines = config.stash.get(REPORT, [])
    if lines:
        terminalreporter.section("cluster tests")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def slurm(report):
    """A single-node Slurm cluster (2 CPUs) in a temp dir, for the whole session."""
    import clusters

    with clusters.slurm_cluster() as cluster:
        report.append(f"Slurm single-node cluster: idle node {cluster.startup_s:.1f} s after start "
                      f"(munged, slurmctld, slurmd; {cluster.cpus} CPUs, {cluster.memory_mb} MB)")
        yield cluster


@pytest.fixture(scope="session")
def postgres(report):
    """A throwaway PostgreSQL 15 server with an empty `mlflow` database, for the whole session."""
    import clusters

    with clusters.postgres_server() as server:
        report.append(f"PostgreSQL 15: accepting connections {server.startup_s:.1f} s after initdb began")
        yield server


@pytest.fixture(scope="session")
def pg_tracking(postgres, tmp_path_factory, report):
    """`mlflow server` on the PostgreSQL database, artifacts proxied into a temp folder (2 workers)."""
    import time

    import servers

    started = time.monotonic()
    with servers.mlflow_server(tmp_path_factory.mktemp("pg_tracking"), backend_uri=postgres.uri("mlflow"),
                               workers=2) as server:
        report.append(f"mlflow server on PostgreSQL: /health answered {time.monotonic() - started:.1f} s "
                      f"after start (schema migrations included)")
        yield server


@pytest.fixture(autouse=True)
def _no_hydra_left_initialised():
    """Fail the test that leaves Hydra's global state initialised (the next make_cfg would raise)."""
    yield
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
        pytest.fail("the test left Hydra's GlobalHydra initialised")
