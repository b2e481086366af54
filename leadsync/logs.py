"""Log output for the command line: readable on a terminal, greppable in cron.

On a terminal a line is just the message; otherwise (cron, CI, a pipe) each
line carries a UTC timestamp, the level and the logger, so an operator can
read a run's story in the mail cron sends. Secrets are scrubbed from every
line (:mod:`leadsync.secrets`).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from leadsync.secrets import ScrubFilter, install_scrub_filter

__all__ = ["configure_logging"]

_HANDLER_NAME = "leadsync-cli"


class _UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))


def configure_logging(verbose: bool = False, stream: TextIO | None = None) -> logging.Handler:
    """Send leadsync's logs to ``stream`` (stderr); INFO, or DEBUG with ``verbose``.

    Idempotent: calling it again replaces the handler it installed before.
    """
    stream = stream or sys.stderr
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):
        interactive = False
    if interactive and not verbose:
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler.setFormatter(_UTCFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubFilter())
    root.addHandler(handler)
    logging.getLogger("leadsync").setLevel(logging.DEBUG if verbose else logging.INFO)
    # The HTTP libraries log every request at DEBUG/INFO; keep them quiet unless asked.
    for noisy in ("httpx", "httpcore", "urllib3", "notion_client"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    install_scrub_filter()
    return handler
