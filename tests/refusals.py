"""What a refused command looks like, for the tests of bad input: exit 2, exactly one
`scratchnet-train: error:` line holding the given fragments, no traceback."""

from __future__ import annotations

import subprocess


def one_error_line(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Assert the refusal and return its error line."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("scratchnet-train: error: "), proc.stderr
    assert all(f in errors[0] for f in fragments), (fragments, errors[0])
    return errors[0]
