"""Progress of long work: a bar on a terminal or in a notebook, plain log lines in cron.

Used by the connectors' pulls and writes and by the sync (one display per
table). Whether a bar draws is decided by :func:`interactive` unless the
caller says.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

__all__ = ["Progress", "bar_class", "interactive"]

#: Where a pull's progress is logged when its caller names no logger.
log = logging.getLogger("leadsync.connectors")


class Progress:
    """Progress of a long pull: a bar on a terminal or in a notebook, log lines in cron.

    ``show=None`` decides from where the process runs; ``True``/``False`` force it.
    Use as a context manager and call :meth:`update` with the rows just done. A
    pull that hands rows to its caller one at a time wraps each hand-over in
    :meth:`paused`, so the seconds it reports are its own, not the caller's.
    """

    LOG_EVERY_SECONDS = 10.0

    def __init__(self, what: str, *, total: int | None = None, unit: str = "rows",
                 show: bool | None = None, logger: logging.Logger | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.what = what
        self.total = total
        self.unit = unit
        self.done = 0
        #: Seconds spent inside :meth:`paused` blocks.
        self.idle_seconds = 0.0
        self._clock = clock
        self._log = logger or log
        self._bar: Any = None
        self._started = clock()
        self._last_log = self._started
        drawn = interactive() if show is None else show
        if drawn:
            self._bar = bar_class()(total=total, desc=what, unit=f" {unit}", leave=False,
                                    file=sys.stderr, dynamic_ncols=True)

    def update(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
            return
        now = self._clock()
        if now - self._last_log >= self.LOG_EVERY_SECONDS:
            self._last_log = now
            self._log.info("%s: %d %s so far%s", self.what, self.done, self.unit,
                           f" of {self.total}" if self.total else "")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """A stretch that is not the pull's work (its caller busy with a row)."""
        began = self._clock()
        try:
            yield
        finally:
            self.idle_seconds += self._clock() - began

    @property
    def seconds(self) -> float:
        """Seconds since the start, less the paused ones."""
        return self._clock() - self._started - self.idle_seconds

    def close(self) -> None:
        elapsed = self.seconds
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._log.info("%s: %d %s in %.1fs", self.what, self.done, self.unit, elapsed)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def bar_class() -> Any:
    """The tqdm class to draw with: a widget in Jupyter when ipywidgets is installed
    (the ``notebook`` extra), else tqdm's text bar.

    ``tqdm.auto`` in a kernel without ipywidgets warns "IProgress not found" and
    draws text anyway; the text bar is chosen here instead, without the warning.
    """
    if "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm as widget

        return widget
    from tqdm.std import tqdm as text

    return text


def interactive() -> bool:
    """Whether progress bars should draw: a notebook, or stderr is a terminal."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
