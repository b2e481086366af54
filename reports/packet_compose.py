"""Lay a :class:`~leadsync.reports.packet.PromotionPacket` out as a :class:`Document` (pure).

The sections follow the seed's "Promotion Packet Template", in its order:
nominee information; leadership evidence (technical, people, operational,
communication); async communication examples; impact metrics; then the
decision framework (the matrix with its weights, consensus), the mentor
observations and the 360 feedback summary. The same renderers as the
report's turn it into HTML and Markdown (:func:`render_packet_html`,
:func:`render_packet_markdown`), and the same workspace writers push it.
"""

from __future__ import annotations

import hashlib
import re

import pandas as pd

from leadsync.inert import safe_url

from .document import Block, Callout, Column, Document, Link, LinkList, Paragraph, Section, Table
from .html import render_document_html
from .markdown import render_document
from .packet import (
    ASYNC_EXAMPLES,
    EVIDENCE_GROUPS,
    NOT_RECORDED,
    PromotionPacket,
    months_between,
)

__all__ = ["PACKET_SECTIONS", "compose_packet", "packet_anchor", "packet_slug",
           "render_packet_html", "render_packet_markdown"]

#: Section keys and titles, in the template's order.
PACKET_SECTIONS: dict[str, str] = {
    "nominee": "Nominee information",
    **{f"evidence_{key}": f"Leadership evidence: {title.lower()}"
       for key, title in EVIDENCE_GROUPS.items()},
    "async": "Async communication examples",
    "metrics": "Impact metrics",
    "matrix": "Decision matrix",
    "consensus": "Consensus",
    "observations": "Mentor observations",
    "feedback": "360 feedback summary",
}

#: Months each stage of the seed's technical leadership track expects.
_STAGE_MONTHS = {"early_leadership": 3, "emerging_leader": 6, "established_leader": 12}

PACKET_NOTE = (
    "This packet gathers what the workspace records for a promotion discussion: it is input "
    "to the decision, not the decision. The seed's framework asks for consensus from at "
    "least three senior leaders, who read it with what no table holds."
)


def packet_slug(member_id: str) -> str:
    """``member_id`` safe for a file name or an HTML id (workspace text is never a path):
    letters, digits, ``-`` and ``_``; an id that needed changing gets a short hash of
    itself, so two ids never share a file."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", member_id).strip("-")[:60]
    if slug == member_id:
        return slug
    digest = hashlib.sha256(member_id.encode("utf-8")).hexdigest()[:8]
    return f"{slug or 'member'}-{digest}"


def packet_anchor(packet: PromotionPacket) -> str:
    return f"packet-{packet.month}-{packet_slug(packet.member_id)}"


def _section(key: str, *blocks: Block | None) -> Section:
    return Section(key, PACKET_SECTIONS[key], tuple(b for b in blocks if b is not None))


def _pairs(key: str, rows: list[tuple[str, str]]) -> Table:
    frame = pd.DataFrame({"field": pd.Series([r[0] for r in rows], dtype="string"),
                          "value": pd.Series([r[1] for r in rows], dtype="string")})
    return Table(key, frame, (Column("field", "Field"), Column("value", "Value", wrap=True)))


def _track(packet: PromotionPacket) -> str:
    if packet.stage is None:
        return "not on a development track"
    stage = packet.stage.replace("_", " ")
    track = (packet.track or "development track").replace("_", " ")
    if packet.stage_started is None:
        return f"{track}, {stage} (start of the stage {NOT_RECORDED})"
    months = months_between(packet.stage_started, packet.as_of)
    expected = _STAGE_MONTHS.get(packet.stage)
    tail = f"; the stage expects {expected}" if expected else ""
    return (f"{track}, {stage} since {packet.stage_started:%-d %B %Y} "
            f"({months:.1f} months{tail})")


def _nominee(packet: PromotionPacket) -> Section:
    review = NOT_RECORDED
    if packet.review_id is not None:
        review = f"{packet.review_id}, decision {packet.decision or NOT_RECORDED}"
        if packet.decided_on is not None:
            review += f" on {packet.decided_on:%Y-%m-%d}"
    return _section("nominee", _pairs("nominee", [
        ("Name", packet.name),
        ("Member id", packet.member_id),
        ("Current role", packet.current_role or NOT_RECORDED),
        ("Proposed role", packet.proposed_role or NOT_RECORDED),
        ("Time in current role", f"{NOT_RECORDED} (the members table keeps no date the "
                                 "role began)"),
        ("Development track", _track(packet)),
        ("Time zone", packet.timezone or NOT_RECORDED),
        ("Promotion review", review),
    ]))


_EVIDENCE_COLUMNS = (
    Column("date", "Date", "date"),
    Column("indicator", "Indicator", wrap=True),
    Column("impact", "Impact"),
    Column("evidence", "Evidence", "link", link_text="evidence"),
    Column("row_url", "Row", "link", link_text="open row"),
)


def _evidence(packet: PromotionPacket, group: str) -> Section:
    rows = packet.evidence[packet.evidence["group"] == group]
    title = EVIDENCE_GROUPS[group].lower()
    blocks: list[Block] = [Table(
        f"evidence_{group}", rows, _EVIDENCE_COLUMNS,
        caption=(f"{len(rows)} signals in the last {packet.evidence_days} days, highest "
                 "impact first, then newest." if len(rows) else ""),
        empty=f"No {title} signal in the last {packet.evidence_days} days.")]
    if group == "people":
        blocks.append(Paragraph("Mentorship instances: the check-ins the nominee held as a "
                                "mentor."))
        blocks.append(Table("mentoring", packet.mentoring, (
            Column("date", "Date", "date"), Column("name", "Mentee"),
            Column("focus_area", "Focus", wrap=True), Column("progress", "Progress", wrap=True),
        ), empty="No check-in records the nominee as a mentor in the last year."))
    if group == "operational":
        blocks += _project_blocks(packet)
    return _section(f"evidence_{group}", *blocks)


def _project_blocks(packet: PromotionPacket) -> list[Block]:
    if packet.projects is None:
        return [Callout(f"Project-lead experiments: {NOT_RECORDED}. The workspace tracks no "
                        "projects table (shadow, pilot and improvement projects).")]
    frame = packet.projects.assign(state=pd.Series([
        str(o) if str(s) == "finished" else str(s)
        for s, o in zip(packet.projects["status"], packet.projects["outcome"], strict=True)],
        dtype="string", index=packet.projects.index))
    return [Paragraph("Project-lead experiments the nominee led (the seed's shadow, pilot "
                      "and improvement projects), with their outcomes and evidence:"),
            Table("projects", frame, (
                Column("name", "Project", wrap=True), Column("kind", "Kind"),
                Column("started_on", "Started", "date"), Column("ended_on", "Ends", "date"),
                Column("state", "Outcome"), Column("sponsor", "Sponsor"),
                Column("evidence", "Evidence", "link", link_text="evidence"),
                Column("row_url", "Row", "link", link_text="open row"),
            ), empty="The nominee has led no project-lead experiment yet.")]


def _async(packet: PromotionPacket) -> Section:
    rows = packet.evidence[(packet.evidence["group"] == "communication")
                           & packet.evidence["evidence"].notna()].head(ASYNC_EXAMPLES)

    links = []
    for date, indicator, impact, evidence in zip(rows["date"], rows["indicator"],
                                                  rows["impact"], rows["evidence"], strict=True):
        url = safe_url(evidence)
        if url is None:
            continue
        when = f"{pd.Timestamp(date):%Y-%m-%d}" if pd.notna(date) else NOT_RECORDED
        text = str(indicator) if isinstance(indicator, str) else "communication signal"
        links.append(Link(f"{text} ({when})", url, f"{impact} impact"))
    if not links:
        return _section("async", Paragraph(
            "No communication signal with an evidence link in the last "
            f"{packet.evidence_days} days: the workspace records no example."))
    return _section("async", Paragraph(
        "The nominee's communication signals with an evidence link (documentation, async "
        "discussions, summaries across time zones), highest impact and newest first."),
        LinkList("Examples", tuple(links)))


def _metrics(packet: PromotionPacket) -> Section:
    blocks: list[Block] = [Table("metrics", packet.metrics, (
        Column("metric", "Metric"), Column("value", "Value")))]
    if packet.projects is not None:
        measured = packet.projects[packet.projects["success_metrics"].notna()]
        if len(measured):
            frame = measured.assign(state=pd.Series([
                str(o) if str(s) == "finished" else str(s)
                for s, o in zip(measured["status"], measured["outcome"], strict=True)],
                dtype="string", index=measured.index))
            blocks.append(Table("project_metrics", frame, (
                Column("name", "Project", wrap=True), Column("kind", "Kind"),
                Column("success_metrics", "Success metrics", wrap=True),
                Column("state", "Outcome")),
                caption="The success metrics of the projects the nominee led."))
    return _section("metrics", *blocks)


def _shown(value: object, digits: int) -> str:
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return NOT_RECORDED
    return f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def _matrix(packet: PromotionPacket) -> Section:
    matrix = packet.matrix
    frame = pd.DataFrame({
        "criterion": matrix["criterion"],
        "weight": matrix["weight"],
        "required": matrix["required"],
        "score": pd.Series([_shown(v, 1) for v in matrix["score"]], dtype="string"),
        "weighted": pd.Series([_shown(v, 2) for v in matrix["weighted"]], dtype="string"),
        "signals": pd.Series([NOT_RECORDED if pd.isna(v) else f"{int(v):+d}"
                              if c == "Growth Trajectory" else f"{int(v)}"
                              for c, v in zip(matrix["criterion"], matrix["signals"],
                                              strict=True)], dtype="string"),
    })
    total = (f"Weighted total: {packet.weighted_total:.2f} (on the review's own scale: a "
             "1–5 review gives 1–5)." if packet.weighted_total is not None else
             f"Weighted total: {NOT_RECORDED} (no scored promotion review for this nominee).")
    return _section("matrix", Paragraph(
        "The seed's decision matrix: each criterion's weight, the evidence it requires, the "
        "review's score, the weighted part, and the signals of the last year counted as its "
        "evidence (for Growth Trajectory, the later half of the year's signals less the "
        "earlier half)."), Table("matrix", frame, (
            Column("criterion", "Criterion"), Column("weight", "Weight", "percent"),
            Column("required", "Evidence required", wrap=True),
            Column("score", "Review score"), Column("weighted", "Weighted"),
            Column("signals", "Signals as evidence")), caption=total))


def _consensus(packet: PromotionPacket) -> Section:
    if packet.review_id is None:
        return _section("consensus", Callout(
            f"Consensus {NOT_RECORDED}: no promotion review records approvers for this "
            "nominee.", "warning"))
    seniors = int(packet.approvers["senior"].fillna(False).sum())
    needed = packet.min_senior_approvers
    met = "met" if seniors >= needed else "not met yet"
    status = f"{seniors} of the {needed} senior approvers the framework requires: {met}. "
    status += f"Status: {packet.status}"
    if packet.decision:
        status += f"; decision recorded: {packet.decision}"
    return _section("consensus", Paragraph(status + "."), Table(
        "approvers", packet.approvers, (
            Column("name", "Approver"), Column("member_id", "Member id"),
            Column("senior", "Senior leader", "flag", link_text="yes")),
        empty="No approver recorded yet."))


def _observations(packet: PromotionPacket) -> Section:
    frame = packet.observations.assign(observation=packet.observations["observation"].fillna(
        NOT_RECORDED))
    return _section("observations", Paragraph(
        "From the nominee's async check-ins as a mentee (the seed's mentor template), newest "
        "first."), Table("observations", frame, (
            Column("date", "Date", "date"), Column("name", "Mentor"),
            Column("focus_area", "Focus", wrap=True),
            Column("observation", "Mentor observation", wrap=True),
            Column("progress", "Progress", wrap=True)),
        empty="No check-in records the nominee as a mentee in the last year."))


def _feedback(packet: PromotionPacket) -> Section:
    if packet.feedback is None or packet.feedback.empty:
        return _section("feedback", Callout(
            f"360 feedback: {NOT_RECORDED}. The workspace keeps no 360 feedback (from peers, "
            "stakeholders and managers) for this nominee; gather it before the promotion "
            "discussion.", "warning"))
    return _section("feedback", Table("feedback", packet.feedback, (
        Column("source", "From"), Column("summary", "Summary", wrap=True))))


def compose_packet(packet: PromotionPacket) -> Document:
    """The packet as a document (see the module doc)."""
    lead = [Callout(PACKET_NOTE),
            Callout(f"As of {packet.as_of:%-d %B %Y}, end of day UTC; evidence from the "
                    f"{packet.evidence_days} days before.")]
    lead += [Callout(note, "warning") for note in packet.notes]
    role = packet.proposed_role or f"proposed role {NOT_RECORDED}"
    subtitle = f"{role} · {packet.status} · as of {packet.as_of:%-d %B %Y}"
    sections = (
        _nominee(packet), *(_evidence(packet, g) for g in EVIDENCE_GROUPS), _async(packet),
        _metrics(packet), _matrix(packet), _consensus(packet), _observations(packet),
        _feedback(packet),
    )
    headline: dict[str, float | int | str] = {
        "member_id": packet.member_id, "name": packet.name, "month": packet.month,
        "status": packet.status, "signals": len(packet.evidence),
        "weighted_total": round(packet.weighted_total, 3)
        if packet.weighted_total is not None else "",
    }
    return Document(packet.title, subtitle, tuple(lead), sections, headline)


def render_packet_html(packet: PromotionPacket, *, fragment: bool = False) -> str:
    """The packet as one self-contained HTML page (the report's template and styles)."""
    return render_document_html(compose_packet(packet), fragment=fragment,
                                anchor=packet_anchor(packet))


def render_packet_markdown(packet: PromotionPacket) -> str:
    return render_document(compose_packet(packet))
