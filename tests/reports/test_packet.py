"""Promotion packets follow the seed's template, say "not recorded" where the workspace is
silent, and render through the report's renderers."""

from __future__ import annotations

import functools
import re

import pandas as pd
import pytest
from leadsync.reports import month_end
from leadsync.reports.packet import (
    NOT_RECORDED,
    PromotionPacket,
    build_packet,
    open_nominations,
)
from leadsync.reports.packet_compose import (
    PACKET_SECTIONS,
    compose_packet,
    packet_slug,
    render_packet_html,
    render_packet_markdown,
)
from push_helpers import html_sections
from report_sample import MONTH, row_url, sample_frames

from leadsync import analytics

#: The seed's "Promotion Packet Template" and decision framework, section by section.
TEMPLATE = ("Nominee information", "Leadership evidence: technical leadership",
            "Leadership evidence: people leadership (mentoring)",
            "Leadership evidence: operational leadership",
            "Leadership evidence: communication leadership", "Async communication examples",
            "Impact metrics", "Decision matrix", "Consensus", "Mentor observations",
            "360 feedback summary")
WEIGHTS = {"Technical Excellence": "20%", "Leadership Behaviors": "30%",
           "Business Impact": "25%", "Cultural Contribution": "15%",
           "Growth Trajectory": "10%"}


@functools.cache
def frames() -> dict[str, pd.DataFrame]:
    return sample_frames()


@functools.cache
def nominee_packet() -> PromotionPacket:
    nominee = open_nominations(frames()["reviews"])[-1]
    return build_packet(frames(), nominee, as_of=month_end(MONTH), row_url=row_url)


def test_open_nominations_are_the_pending_reviews() -> None:
    reviews = frames()["reviews"]
    pending = reviews[reviews["decision"] == "Pending"]["nominee_id"].tolist()
    assert open_nominations(reviews) == pending
    assert len(pending) == 2


def test_a_nominees_packet_has_every_section_of_the_template_with_weights_and_links() -> None:
    packet = nominee_packet()
    html = render_packet_html(packet)
    sections = html_sections(html)
    assert [t for t in sections if t] == list(TEMPLATE) == list(PACKET_SECTIONS.values())
    nominee = dict(sections["Nominee information"]["tables"][0][1:])
    assert nominee["Name"] == packet.name
    assert nominee["Current role"] == "Engineer"
    assert nominee["Proposed role"] == "Tech Lead"
    assert nominee["Time in current role"].startswith(NOT_RECORDED)
    assert "established leader since" in nominee["Development track"]
    (matrix,) = sections["Decision matrix"]["tables"]
    assert {row[0]: row[1] for row in matrix[1:]} == WEIGHTS
    review = frames()["reviews"].set_index("review_id").loc[packet.review_id]
    assert [row[3] for row in matrix[1:]] == [
        f"{review[c]:.1f}" for c in analytics.CRITERIA]
    assessed = analytics.assess_promotions(frames()["reviews"], frames()["signals"],
                                           frames()["members"], as_of=month_end(MONTH)).frame
    total = assessed.set_index("review_id").loc[packet.review_id, "weighted_score"]
    assert f"Weighted total: {total:.2f}" in sections["Decision matrix"]["paragraphs"][-1]
    links = re.findall(r'href="(https://[^"]+)"', html)
    assert sum("workspace.example/signals/" in link for link in links) == len(packet.evidence)
    assert sum(1 for link in links if "workspace.example" not in link) >= \
        packet.evidence["evidence"].notna().sum()
    for title in TEMPLATE[1:5]:
        assert sections[title]["tables"] or sections[title]["paragraphs"]
    assert sections["Async communication examples"]["bullets"]
    assert any("Senior approvers" in p or "senior approvers" in p
               for p in sections["Consensus"]["paragraphs"])
    assert sections["Mentor observations"]["tables"][0][0][3] == "Mentor observation"
    assert sections["360 feedback summary"]["paragraphs"] == [
        "360 feedback: not recorded. The workspace keeps no 360 feedback (from peers, "
        "stakeholders and managers) for this nominee; gather it before the promotion "
        "discussion."]
    markdown = render_packet_markdown(packet)
    for title in TEMPLATE:
        assert f"## {title}" in markdown
    for criterion, weight in WEIGHTS.items():
        assert re.search(rf"\| {criterion} +\| +{weight} ", markdown)


def test_evidence_is_grouped_as_the_template_groups_it() -> None:
    packet = nominee_packet()
    groups = dict(zip(packet.evidence["indicator"], packet.evidence["group"], strict=True))
    assert groups.get("Mentors junior developers in code reviews", "people") == "people"
    for indicator, group in groups.items():
        if group == "people":
            assert "entor" in indicator or "oach" in indicator
    kinds = packet.evidence[packet.evidence["group"] != "people"]
    assert (kinds["group"] == kinds["signal_type"].astype(str).str.lower()).all()
    start = month_end(MONTH) - pd.Timedelta(days=365)
    assert (packet.evidence["date"] > start).all()


def test_a_member_without_a_review_gets_not_recorded_where_it_is_missing() -> None:
    members = frames()["members"]
    reviewed = set(frames()["reviews"]["nominee_id"])
    member = next(m for m in members["member_id"] if m not in reviewed)
    packet = build_packet(frames(), member, as_of=month_end(MONTH))
    assert packet.review_id is None
    assert packet.status == "not reviewed"
    assert packet.weighted_total is None
    document = compose_packet(packet)
    matrix = next(b for b in document.section("matrix").blocks if hasattr(b, "frame"))
    assert [row[3] for row in matrix.rows()] == [NOT_RECORDED] * 5  # type: ignore[attr-defined]
    assert [row[1] for row in matrix.rows()] == list(WEIGHTS.values())  # type: ignore[attr-defined]
    consensus = document.section("consensus").blocks[0]
    assert NOT_RECORDED in consensus.text  # type: ignore[union-attr]
    assert any("no promotion review" in c.text for c in document.lead)


def test_an_unknown_member_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        build_packet(frames(), "nobody", as_of=month_end(MONTH))


def test_hostile_text_in_a_packet_stays_text() -> None:
    hostile = '<script>alert(1)</script> =HYPERLINK("x")'
    data = dict(frames())
    members = data["members"].copy()
    nominee = nominee_packet().member_id
    members["name"] = members["name"].astype("object")
    members.loc[members["member_id"] == nominee, "name"] = hostile
    members["name"] = members["name"].astype("string")
    data["members"] = members
    packet = build_packet(data, nominee, as_of=month_end(MONTH))
    html = render_packet_html(packet)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\\<script\\>" not in render_packet_markdown(packet)  # HTML entities instead
    assert "&lt;script&gt;" in render_packet_markdown(packet)


def test_a_slug_never_lets_an_id_reach_outside_its_folder() -> None:
    assert packet_slug("m001") == "m001"
    assert packet_slug("rec12345678901234") == "rec12345678901234"
    slug = packet_slug("../../etc/passwd")
    assert "/" not in slug
    assert ".." not in slug
    assert packet_slug("a.b") != packet_slug("a-b")


def test_a_name_two_members_share_lists_both() -> None:
    from leadsync.reports.packet_job import resolve_member

    from leadsync.errors import ConfigError

    members = pd.DataFrame({"member_id": pd.Series(["m1", "m2", "m3"], dtype="string"),
                            "name": pd.Series(["Ana Lima", "ana lima", "Bo Chen"],
                                              dtype="string")})
    assert resolve_member(members, "m3") == "m3"
    assert resolve_member(members, "bo chen") == "m3"
    with pytest.raises(ConfigError, match=r"2 members are named 'Ana Lima': Ana Lima \(m1\), "
                                          r"ana lima \(m2\); give the member id"):
        resolve_member(members, "Ana Lima")


def test_a_packet_shows_itself_in_a_notebook_escaped() -> None:
    from leadsync import reports

    hostile = '<img src=x onerror=alert(1)>'
    data = dict(frames())
    members = data["members"].copy()
    nominee = nominee_packet().member_id
    members["name"] = members["name"].astype("object")
    members.loc[members["member_id"] == nominee, "name"] = hostile
    members["name"] = members["name"].astype("string")
    data["members"] = members
    packet = reports.build_packet(data, nominee, as_of=month_end(MONTH), row_url=row_url)
    assert isinstance(packet, PromotionPacket)
    assert packet.matrix.equals(build_packet(data, nominee, as_of=month_end(MONTH),
                                             row_url=row_url).matrix)
    shown = packet._repr_html_()
    assert shown == render_packet_html(packet, fragment=True)
    assert not shown.lstrip().lower().startswith(("<!doctype", "<html"))  # a cell, not a page
    assert [t for t in html_sections(shown) if t] == list(TEMPLATE)
    assert "<img src=x" not in shown
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown
