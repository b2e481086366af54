"""Saving a rendered report: the only module of the report that touches the disk.

:func:`write_report` renders the formats asked for and saves them, with the
chart images the Markdown links to, into one directory:

* the directory is created (owner-only) when missing;
* each file is written to a temporary name in that directory, flushed to
  disk, then renamed over the final name, so a run killed at any moment
  leaves either the previous file or the new one, never half of one;
* files are created ``0600``: they hold people's names and scores.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from leadsync.reports.compose import document_of
from leadsync.reports.document import Document
from leadsync.reports.html import render_document_html
from leadsync.reports.markdown import render_document
from leadsync.reports.model import ReportModel

from leadsync.errors import ReportWriteError

__all__ = ["FORMATS", "WrittenReport", "write_document", "write_file", "write_report"]

#: Formats :func:`write_report` can write, and the file each goes to.
FORMATS: dict[str, str] = {"html": "report.html", "md": "report.md"}

#: Owner read and write only.
FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass(frozen=True)
class WrittenReport:
    """What :func:`write_report` wrote: the directory and every file, by role."""

    directory: Path
    files: dict[str, Path] = field(default_factory=dict)
    charts: list[Path] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [*self.files.values(), *self.charts]

    def to_dict(self) -> dict[str, object]:
        return {"directory": str(self.directory),
                "files": {k: str(v) for k, v in self.files.items()},
                "charts": [str(p) for p in self.charts]}


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename), mode 0600."""
    directory = path.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a power cut
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _remove_leftovers(directory: Path, names: Iterable[str]) -> None:
    """Temporary files a killed run left behind (never a final name)."""
    for name in names:
        for leftover in directory.glob(f".{name}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _check_formats(formats: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"formats must be among {', '.join(FORMATS)}, not {chosen!r}")
    return chosen


def write_document(document: Document, directory: str | os.PathLike[str], *,
                   formats: Iterable[str] = ("html", "md"), anchor: str = "ls",
                   stem: str = "report") -> WrittenReport:
    """Render ``document`` in ``formats`` and save it in ``directory`` (see the module doc),
    as ``<stem>.html`` and ``<stem>.md`` (``stem`` is leadsync's, never workspace text)."""
    chosen = _check_formats(formats)
    out = Path(directory)
    names = {kind: f"{stem}{Path(name).suffix}" for kind, name in FORMATS.items()}
    try:
        out.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        _remove_leftovers(out, [*names.values(), *(c.filename for c in document.charts)])
        files: dict[str, Path] = {}
        charts: list[Path] = []
        if "md" in chosen:  # the Markdown links to the images beside it
            for chart in document.charts:
                path = out / chart.filename
                write_file(path, chart.png)
                charts.append(path)
        for kind in chosen:
            text = (render_document_html(document, anchor=anchor) if kind == "html"
                    else render_document(document))
            path = out / names[kind]
            write_file(path, text.encode("utf-8"))
            files[kind] = path
    except OSError as exc:
        raise ReportWriteError(f"cannot write the report into {out}: "
                               f"{exc.strerror or exc}") from exc
    return WrittenReport(out, files, charts)


def write_report(report: ReportModel, directory: str | os.PathLike[str], *,
                 formats: Iterable[str] = ("html", "md")) -> WrittenReport:
    """Write ``report`` into ``directory``: ``report.html`` (self-contained), ``report.md``
    and, beside the Markdown, its chart images (``chart-*.png``).
    """
    return write_document(document_of(report), directory, formats=formats,
                          anchor=f"ls-{report.month}")
