"""Files leadsync writes for people to read: owner-only, and never half written.

Reports hold people's names and scores, so they are created ``0600`` like the
store. :func:`write_private` writes to a temporary file beside the target
(created ``0600`` by :func:`tempfile.mkstemp`), flushes it to disk and renames
it over the target: a reader, or a run killed half way, sees the old file or
the new one, never a part of one, and an older file readable by others is
replaced by an owner-only one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_private"]


def write_private(path: str | os.PathLike[str], data: str | bytes, *,
                  encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` owner-only (0600), atomically; returns the path."""
    target = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                     suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target
