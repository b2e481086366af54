"""A promotion packet that shows itself in a notebook (pure).

:class:`PacketView` is a :class:`~leadsync.reports.packet.PromotionPacket`
with ``_repr_html_``: the packet's HTML (the report's template and styles,
workspace text escaped) as a fragment for a notebook cell.
:func:`build_packet` is :func:`leadsync.reports.packet.build_packet`
returning one. It sits above the layout and the renderers, as
:mod:`.report` does for the report, so that none of them imports it: the
arrows run packet <- packet_compose <- this module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ParamSpec

from . import packet as _packet
from .packet import PromotionPacket
from .packet_compose import render_packet_html

__all__ = ["PacketView", "build_packet"]

P = ParamSpec("P")


@dataclass(frozen=True, eq=False)
class PacketView(PromotionPacket):
    """A :class:`~leadsync.reports.packet.PromotionPacket` shown inline as its HTML page."""

    def _repr_html_(self) -> str:
        return render_packet_html(self, fragment=True)


def _as_view(build: Callable[P, PromotionPacket]) -> Callable[P, PacketView]:
    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> PacketView:
        packet = build(*args, **kwargs)
        return PacketView(**{f.name: getattr(packet, f.name) for f in fields(packet)})

    return wrapper


#: :func:`~leadsync.reports.packet.build_packet`, returning a :class:`PacketView`.
build_packet = _as_view(_packet.build_packet)
