"""Saving a report: owner-only files, a directory made when missing, never half a file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from leadsync.reports import write as writer
from leadsync.reports import write_report
from report_sample import sample_report

from leadsync.errors import ReportWriteError


def test_files_are_owner_only_and_the_directory_is_made(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    written = write_report(sample_report(), out)
    assert set(written.files) == {"html", "md"}
    assert len(written.charts) == 6
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in written.paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written.paths)


def test_an_existing_file_is_replaced_whole_or_not_at_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.md"
    target.write_text("the previous report\n")

    def killed(fd: int) -> None:  # the process dies after writing, before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(writer.os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.write_file(target, b"the new report, long enough to be cut in half\n")
    assert target.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # no temp file left


def test_a_directory_that_cannot_be_written_is_a_report_write_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(ReportWriteError, match="cannot write the report into"):
        write_report(sample_report(), blocked / "out", formats=["md"])


def test_the_same_report_gives_the_same_bytes(tmp_path: Path) -> None:
    first = write_report(sample_report(), tmp_path / "one")
    second = write_report(sample_report(), tmp_path / "two")
    for a, b in zip(first.paths, second.paths, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


CHILD = """
import sys
from pathlib import Path
from leadsync.reports.write import write_file
target = Path(sys.argv[1])
for i in range(10_000):
    write_file(target, (str(i % 10) * 4_000_000).encode())
"""


@pytest.mark.parametrize("delay", [0.3, 0.6, 0.9])
def test_sigkill_while_writing_leaves_a_whole_file(tmp_path: Path, delay: float) -> None:
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "report.md"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(target)])
    try:
        deadline = time.monotonic() + 20
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    data = target.read_bytes()
    assert len(data) == 4_000_000
    assert len(set(data)) == 1  # one version, whole
    write_report(sample_report(), tmp_path, formats=["md"])
    assert not list(tmp_path.glob(".*.tmp"))  # the next run tidies what the kill left
