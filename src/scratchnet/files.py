"""Atomic file writes: a temporary file beside the target, swapped in by one rename."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


@functools.cache
def umask() -> int:
    """The process's umask, read once on first use (never at import time)."""
    try:  # Linux >= 4.7 shows it without changing it
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)  # elsewhere reading it means setting it: put it straight back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    On any error (or Ctrl-C) the temporary file is removed and `path` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj) -> None:
    """`obj` as indented JSON with sorted keys (stable bytes for DVC), atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def csv_text(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """A header line and the rows as CSV ("\\n" line ends; floats as repr, so they round-trip)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write_csv(path: str | os.PathLike, header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    """csv_text(header, rows) written to `path` atomically."""
    write_text(path, csv_text(header, rows))
