"""The month's report and promotion packets as Airtable rows (pure).

Three tables, created in the base when missing (:data:`TABLES`):

* **Reports**: one row per month, keyed by ``Month`` (``2026-10``): the
  headline figures, the notes at the top of the report, and as attachments
  the HTML report and the chart images;
* **Scores**: one row per member and month, keyed by ``Month`` and
  ``Member ID``: the score, its one- and three-month change, percentile,
  rank, signals, evidence, breadth and the impact by signal type, with
  ``Member`` linking the member's record when the members table is in the
  same base;
* **Packets**: one row per nominee and month, keyed the same way: role,
  proposed role, the weighted total of the decision matrix, status, senior
  approvers, evidence links, and the packet as an HTML attachment.

Values are values: numbers as numbers (rounded as the report shows them),
text as text. Airtable never evaluates a cell of a text field, so a name
typed as ``=HYPERLINK("x")`` stays those characters; nothing here is a
formula. :func:`rows_digest` is what an unchanged push compares.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..document import Document
from ..model import ReportModel
from ..packet import NOT_RECORDED, PromotionPacket

__all__ = [
    "ATTACHMENT_MAX_BYTES",
    "PACKETS",
    "REPORTS",
    "SCORES",
    "TABLES",
    "FieldSpec",
    "TableSpec",
    "attachments_of",
    "file_digest",
    "packet_row",
    "report_row",
    "rows_digest",
    "score_rows",
]

#: The largest file Airtable's upload endpoint takes (5 MB).
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class FieldSpec:
    """A field leadsync writes: its name, Airtable type and create options."""

    name: str
    type: str
    options: Mapping[str, Any] | None = None

    def create(self) -> dict[str, Any]:
        """The field in the metadata API's create format."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.options is not None:
            out["options"] = dict(self.options)
        return out


@dataclass(frozen=True)
class TableSpec:
    """A table leadsync writes: its default name, fields (the first is primary) and keys."""

    role: str
    name: str
    fields: tuple[FieldSpec, ...]
    keys: tuple[str, ...]
    description: str = ""

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


def _text(name: str) -> FieldSpec:
    return FieldSpec(name, "singleLineText")


def _number(name: str, precision: int = 0) -> FieldSpec:
    return FieldSpec(name, "number", {"precision": precision})


def _percent(name: str) -> FieldSpec:
    return FieldSpec(name, "percent", {"precision": 0})


_ISO = {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}

REPORTS = TableSpec("reports", "Reports", (
    _text("Month"),
    _text("Title"),
    FieldSpec("As of", "date", _ISO),
    _number("Members"),
    _number("Signals in month"),
    _number("Signals, last 12 months"),
    _number("Median score", 1),
    _percent("Signals with evidence"),
    _number("Representation flags"),
    _number("Rows in quarantine"),
    _number("Sync run"),
    FieldSpec("Notes", "multilineText"),
    FieldSpec("Report", "multipleAttachments"),
    FieldSpec("Charts", "multipleAttachments"),
), ("Month",), "The monthly leadership-sync report, one row a month (written by leadsync).")

SCORES = TableSpec("scores", "Scores", (
    _text("Entry"),
    _text("Month"),
    _text("Member ID"),
    _text("Name"),
    _number("Score", 1),
    _number("Rank"),
    _number("Percentile", 1),
    _number("Change, 1 month", 1),
    _number("Change, 3 months", 1),
    _number("Signals"),
    _percent("With evidence"),
    _number("Breadth", 2),
    _number("Technical impact", 1),
    _number("Operational impact", 1),
    _number("Communication impact", 1),
), ("Month", "Member ID"),
    "Each member's leadership score at the end of each month (written by leadsync).")

PACKETS = TableSpec("packets", "Packets", (
    _text("Packet"),
    _text("Month"),
    _text("Member ID"),
    _text("Name"),
    _text("Current role"),
    _text("Proposed role"),
    _number("Weighted total", 2),
    _text("Status"),
    _number("Senior approvers"),
    _number("Evidence links"),
    FieldSpec("Packet file", "multipleAttachments"),
), ("Month", "Member ID"), "Promotion packets, one row per nominee and month (written by "
                          "leadsync).")

#: Every table leadsync writes, by role.
TABLES: dict[str, TableSpec] = {t.role: t for t in (REPORTS, SCORES, PACKETS)}

#: The link from a score to its member (only when the members table is in the base).
MEMBER_LINK = "Member"


def _value(value: Any, digits: int | None = None) -> Any:
    """A frame cell as a JSON value: NA is None, numbers rounded as the report shows them."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and digits is not None:
        return round(value, digits)
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def report_row(report: ReportModel, document: Document) -> dict[str, Any]:
    """The month's row of the Reports table (without its attachments)."""
    head = report.headline
    return {
        "Month": report.month,
        "Title": document.title,
        "As of": f"{report.as_of:%Y-%m-%d}",
        "Members": head["members"],
        "Signals in month": head["signals_in_month"],
        "Signals, last 12 months": head["signals_12_months"],
        "Median score": head["median_score"],
        "Signals with evidence": head["evidence_rate"],
        "Representation flags": head["representation_flags"],
        "Rows in quarantine": head["quarantined_rows"],
        "Sync run": head["sync_run"],
        "Notes": "\n".join(c.text for c in document.lead),
    }


def score_rows(report: ReportModel, member_records: Mapping[str, str] | None = None
               ) -> list[dict[str, Any]]:
    """One Scores row per member. ``member_records`` (member id -> record id of the members
    table in the same base) adds the ``Member`` link."""
    rows = []
    for item in report.scores.to_dict("records"):
        member = str(item["member_id"])
        name = "" if _value(item["name"]) is None else str(item["name"])
        row: dict[str, Any] = {
            "Entry": f"{name} · {report.month}",
            "Month": report.month,
            "Member ID": member,
            "Name": name,
            "Score": _value(item["score"], 1),
            "Rank": _value(item["rank"]),
            "Percentile": _value(item["percentile"], 1),
            "Change, 1 month": _value(item["score_change"], 1),
            "Change, 3 months": _value(item["change_3m"], 1),
            "Signals": _value(item["signals"]),
            "With evidence": _value(item["evidence_rate"], 6),
            "Breadth": _value(item["breadth"], 2),
            "Technical impact": _value(item["impact_technical"], 1),
            "Operational impact": _value(item["impact_operational"], 1),
            "Communication impact": _value(item["impact_communication"], 1),
        }
        if member_records is not None:
            record = member_records.get(member)
            row[MEMBER_LINK] = [record] if record else []
        rows.append(row)
    return rows


def packet_row(packet: PromotionPacket) -> dict[str, Any]:
    """The packet's row of the Packets table (without its attachment)."""
    seniors = int(packet.approvers["senior"].fillna(False).sum())
    return {
        "Packet": f"{packet.name} · {packet.month}",
        "Month": packet.month,
        "Member ID": packet.member_id,
        "Name": packet.name,
        "Current role": packet.current_role or NOT_RECORDED,
        "Proposed role": packet.proposed_role or NOT_RECORDED,
        "Weighted total": None if packet.weighted_total is None
        else round(packet.weighted_total, 2),
        "Status": packet.status,
        "Senior approvers": seniors,
        "Evidence links": int(packet.evidence["evidence"].notna().sum()),
    }


def rows_digest(*parts: Any) -> str:
    """A digest of rows and attachment digests (what an unchanged push compares)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def attachments_of(document: Document, html: bytes) -> list[tuple[str, str, bytes, str]]:
    """``(field, filename, bytes, content type)`` of every file a report row carries."""
    files = [("Report", "report.html", html, "text/html")]
    files += [("Charts", c.filename, c.png, "image/png") for c in document.charts]
    return files

