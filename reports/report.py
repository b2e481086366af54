"""The report a user holds: the month's model with its layout and its notebook display.

:func:`build_report` is :func:`~leadsync.reports.model.build_model` (same
arguments, just as pure) returning a :class:`LeadershipReport`: the
:class:`~leadsync.reports.model.ReportModel` plus :attr:`~LeadershipReport.document`
(the renderer-neutral layout every renderer and writer walks) and
``_repr_html_`` (the HTML report inline in a notebook). It sits above the
layout and the renderers so that none of them imports it: the arrows run
model ← compose ← renderers ← this module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ParamSpec

from .compose import document_of
from .document import Document
from .html import render_html
from .model import ReportModel, build_model

__all__ = ["LeadershipReport", "build_report"]

P = ParamSpec("P")


@dataclass(frozen=True, eq=False, repr=False)  # the model's short repr
class LeadershipReport(ReportModel):
    """One month's leadership sync: the figures, their layout and their display."""

    @property
    def document(self) -> Document:
        """The report laid out as sections, tables, notes, links and charts (PNG)."""
        document: Document = document_of(self)
        return document

    def _repr_html_(self) -> str:
        return render_html(self, fragment=True)


def _as_report(build: Callable[P, ReportModel]) -> Callable[P, LeadershipReport]:
    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> LeadershipReport:
        model = build(*args, **kwargs)
        return LeadershipReport(**{f.name: getattr(model, f.name) for f in fields(model)})

    return wrapper


#: :func:`~leadsync.reports.model.build_model`, returning a :class:`LeadershipReport`.
build_report = _as_report(build_model)
