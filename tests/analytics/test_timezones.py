"""Time-zone groups (DST-aware) and the representation audit."""

from __future__ import annotations

import pandas as pd
import pytest

from leadsync.analytics import (
    POOLED_GROUP,
    assess_representation,
    compute_timezone_groups,
)
from leadsync.errors import DataValidationError

from .factories import members, signal, signals

ZONES = {
    "ny": "America/New_York",
    "lon": "Europe/London",
    "ber": "Europe/Berlin",
    "syd": "Australia/Sydney",
    "kol": "Asia/Kolkata",
}


def offsets(as_of: str) -> dict[str, float]:
    team = members(*({"member_id": k, "timezone": v} for k, v in ZONES.items()))
    frame = compute_timezone_groups(team, as_of=as_of).frame
    return dict(zip(frame["member_id"], frame["utc_offset"], strict=True))


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # Winter everywhere north; summer in Sydney (AEDT).
        ("2026-03-01", {"ny": -5, "lon": 0, "ber": 1, "syd": 11, "kol": 5.5}),
        # After the US switch (2026-03-08), before the EU one (2026-03-29).
        ("2026-03-20", {"ny": -4, "lon": 0, "ber": 1, "syd": 11, "kol": 5.5}),
        # After both; Sydney back on standard time since 2026-04-05.
        ("2026-04-10", {"ny": -4, "lon": 1, "ber": 2, "syd": 10, "kol": 5.5}),
        # Sydney forward again on 2026-10-04; the north still on summer time.
        ("2026-10-10", {"ny": -4, "lon": 1, "ber": 2, "syd": 11, "kol": 5.5}),
        # EU back on 2026-10-25, US not until 2026-11-01.
        ("2026-10-28", {"ny": -4, "lon": 0, "ber": 1, "syd": 11, "kol": 5.5}),
        ("2026-11-05", {"ny": -5, "lon": 0, "ber": 1, "syd": 11, "kol": 5.5}),
    ],
)
def test_utc_offsets_follow_each_zones_dst(as_of: str, expected: dict[str, float]) -> None:
    assert offsets(as_of) == expected


def test_offset_changes_at_the_transition_instant() -> None:
    # New York springs forward at 02:00 EST on 2026-03-08, which is 07:00 UTC.
    assert offsets("2026-03-08T06:59:00Z")["ny"] == -5
    assert offsets("2026-03-08T07:00:00Z")["ny"] == -4


def test_bands_default_and_custom_edges() -> None:
    team = members(*({"member_id": k, "timezone": v} for k, v in ZONES.items()))
    frame = compute_timezone_groups(team, as_of="2026-03-20").frame.set_index("member_id")
    assert frame.loc["ny", "offset_band"] == "UTC-06:00 to UTC-02:00"
    assert frame.loc["lon", "offset_band"] == "UTC-02:00 to UTC+04:00"
    assert frame.loc["kol", "offset_band"] == "UTC+04:00 to UTC+07:00"
    assert frame.loc["syd", "offset_band"] == "UTC+10:00 to UTC+14:00"

    # London moves band when it leaves GMT (0) for BST (+1).
    edges = (-12, 0.5, 14)
    before = compute_timezone_groups(team, as_of="2026-03-20", offset_edges=edges).frame
    after = compute_timezone_groups(team, as_of="2026-04-10", offset_edges=edges).frame
    assert before.set_index("member_id").loc["lon", "offset_band"] == "UTC-12:00 to UTC+00:30"
    assert after.set_index("member_id").loc["lon", "offset_band"] == "UTC+00:30 to UTC+14:00"

    # The last band is closed; outside the edges, open bands.
    narrow = compute_timezone_groups(team, as_of="2026-03-01", offset_edges=(-5, 0)).frame
    bands = dict(zip(narrow["member_id"], narrow["offset_band"], strict=True))
    assert bands["ny"] == bands["lon"] == "UTC-05:00 to UTC+00:00"
    assert bands["syd"] == "above UTC+00:00"
    low = compute_timezone_groups(team, as_of="2026-03-01", offset_edges=(0, 6)).frame
    assert low.set_index("member_id").loc["ny", "offset_band"] == "below UTC+00:00"
    with pytest.raises(DataValidationError, match="strictly increasing"):
        compute_timezone_groups(team, as_of="2026-03-01", offset_edges=(3, 1))


def test_regions_are_iana_areas_with_legacy_links_and_overrides() -> None:
    team = members(
        {"member_id": "ba", "timezone": "America/Argentina/Buenos_Aires"},
        {"member_id": "us", "timezone": "US/Eastern"},
        {"member_id": "utc", "timezone": "UTC"},
        {"member_id": "etc", "timezone": "Etc/GMT+5"},
        {"member_id": "syd", "timezone": "Australia/Sydney"},
        {"member_id": "akl", "timezone": "Pacific/Auckland"},
    )
    plain = compute_timezone_groups(team, as_of="2026-03-01").frame
    assert dict(zip(plain["member_id"], plain["region"], strict=True)) == {
        "akl": "Pacific", "ba": "America", "etc": "Other", "syd": "Australia",
        "us": "America", "utc": "Other",
    }
    # Etc/GMT+5 is five hours *behind* UTC (POSIX sign).
    assert plain.set_index("member_id").loc["etc", "utc_offset"] == -5
    merged = compute_timezone_groups(
        team, as_of="2026-03-01", regions={"Australia": "Oceania", "Pacific": "Oceania"}
    ).frame
    assert set(merged.loc[merged["member_id"].isin(["syd", "akl"]), "region"]) == {"Oceania"}


def test_members_without_a_usable_time_zone_are_quarantined() -> None:
    team = members({"member_id": "a", "timezone": "Europe/Paris"}, {"member_id": "b"},
                   {"member_id": "c", "timezone": "Asia/Tokyo"})
    hand_made = team.copy()
    hand_made.loc[hand_made["member_id"] == "c", "timezone"] = "Mars/Olympus_Mons"
    result = compute_timezone_groups(hand_made, as_of="2026-03-01")
    assert list(result.frame["member_id"]) == ["a"]
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert reasons == {
        "src-b": "timezone is missing",
        "src-c": "timezone 'Mars/Olympus_Mons' is not an IANA time zone",
    }


# ---------------------------------------------------------------------------
# The representation audit, by hand (as of 2026-03-20)

AUDIT_AS_OF = "2026-03-20"


def audit_team() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = [
        # Europe: 5 members, 3 leaders, 1 on a track
        {"member_id": "e1", "timezone": "Europe/London", "is_leader": True},
        {"member_id": "e2", "timezone": "Europe/London", "is_leader": True},
        {"member_id": "e3", "timezone": "Europe/London", "is_leader": True},
        {"member_id": "e4", "timezone": "Europe/Berlin", "track": "technical_leadership"},
        {"member_id": "e5", "timezone": "Europe/Berlin"},
        # America: 4 members, 1 leader, 2 on a track
        {"member_id": "a1", "timezone": "America/New_York", "is_leader": True},
        {"member_id": "a2", "timezone": "America/New_York", "track": "technical_leadership"},
        {"member_id": "a3", "timezone": "America/New_York", "track": "technical_leadership"},
        {"member_id": "a4", "timezone": "America/New_York"},
        # Asia: 1 member, on a track
        {"member_id": "k1", "timezone": "Asia/Kolkata", "track": "technical_leadership"},
    ]
    team = members(*rows)
    scores = pd.DataFrame({
        "member_id": [r["member_id"] for r in rows],
        "score": [90.0, 10, 10, 10, 10, 80, 10, 10, 10, 0],
    })
    sig = signals(
        signal("e1", "2026-03-01", "High"),
        signal("e1", "2026-03-02", "High"),
        signal("e1", "2025-01-01", "High"),  # outside the 90-day window
        signal("a1", "2026-03-01", "Low"),
        signal("a1", "2026-03-01", "Medium"),
        *(signal("k1", "2026-03-01", "Low") for _ in range(4)),
    )
    return team, sig, scores


def test_representation_by_hand() -> None:
    team, sig, scores = audit_team()
    result = assess_representation(team, sig, scores, as_of=AUDIT_AS_OF)
    assert result.ok
    frame = result.frame
    region = frame[frame["grouping"] == "region"].set_index("group")
    assert list(region.index) == ["America", "Asia", "Europe"]
    assert list(region["members"]) == [4, 1, 5]
    assert list(region["team_share"]) == pytest.approx([0.4, 0.1, 0.5])

    # Leaders 1 / 3 of 4: shares 0.25, 0, 0.75; ratio share ÷ team share.
    assert list(region["leaders"]) == [1, 0, 3]
    assert list(region["leaders_share"]) == pytest.approx([0.25, 0.0, 0.75])
    assert list(region["leaders_ratio"]) == pytest.approx([0.625, 0.0, 1.5])
    # Four-fifths: rates 1/4, 0/1, 3/5 against the best large group (Europe, 0.6).
    assert list(region["leaders_impact_ratio"]) == pytest.approx([0.25 / 0.6, 0.0, 1.0])
    assert list(region["leaders_flag"]) == [True, True, False]

    # Pipeline rates 2/4, 1/1, 1/5; Asia is too small to be the reference, so America (0.5) is.
    assert list(region["pipeline"]) == [2, 1, 1]
    assert list(region["pipeline_impact_ratio"]) == pytest.approx([1.0, 2.0, 0.4])
    assert list(region["pipeline_flag"]) == [False, False, True]

    # Top 20 % of 10 = 2 members: e1 (90) and a1 (80). Rates 1/4, 0, 1/5:
    # Europe 0.2 / 0.25 = 0.8 is exactly four-fifths, not below it.
    assert list(region["top_scored"]) == [1, 0, 1]
    assert list(region["top_scored_impact_ratio"]) == pytest.approx([1.0, 0.0, 0.8])
    assert list(region["top_scored_flag"]) == [False, True, False]

    # Signals in the 90 days to 2026-03-20: America 2, Asia 4, Europe 2 (one is too old).
    # Per member 0.5, 4, 0.4 against 8 / 10 = 0.8 overall.
    assert list(region["signals"]) == [2, 4, 2]
    assert list(region["signals_per_member"]) == pytest.approx([0.5, 4.0, 0.4])
    assert list(region["visibility_ratio"]) == pytest.approx([0.625, 5.0, 0.5])
    assert list(region["low_share"]) == pytest.approx([0.5, 1.0, 0.0])
    assert list(region["medium_share"]) == pytest.approx([0.5, 0.0, 0.0])
    assert list(region["high_share"]) == pytest.approx([0.0, 0.0, 1.0])
    assert list(region["suppressed"]) == [False, True, False]

    band = frame[frame["grouping"] == "offset_band"].set_index("group")
    assert dict(band["members"]) == {
        "UTC-02:00 to UTC+04:00": 5, "UTC+04:00 to UTC+07:00": 1, "UTC-06:00 to UTC-02:00": 4,
    }


def test_publishable_output_pools_small_groups_so_none_can_be_recovered() -> None:
    team, sig, scores = audit_team()
    frame = assess_representation(team, sig, scores, as_of=AUDIT_AS_OF, publishable=True).frame
    region = frame[frame["grouping"] == "region"].set_index("group")
    # Asia (1) is under 3; pooled alone it would still be 1, so America (4) joins the pool.
    assert list(region.index) == ["Europe", POOLED_GROUP]
    assert list(region["members"]) == [5, 5]
    assert list(region["leaders"]) == [3, 1]
    assert list(region["suppressed"]) == [False, True]
    assert (frame["members"] >= 3).all()
    assert "Asia" not in set(frame["group"])


def test_publishable_output_of_a_team_smaller_than_the_minimum_has_no_numbers() -> None:
    team, sig, scores = audit_team()
    two = team[team["member_id"].isin(["e1", "a1"])]
    frame = assess_representation(two, sig, scores, as_of=AUDIT_AS_OF, publishable=True).frame
    assert list(frame["group"]) == [POOLED_GROUP, POOLED_GROUP]
    assert frame["members"].isna().all()
    assert frame["leaders"].isna().all()
    assert frame["suppressed"].all()


def test_representation_of_empty_and_one_member_teams() -> None:
    empty = assess_representation(members(), signals(), pd.DataFrame(
        {"member_id": pd.Series(dtype="string"), "score": pd.Series(dtype="Float64")}),
        as_of=AUDIT_AS_OF)
    assert empty.frame.empty
    assert "leaders_flag" in empty.frame.columns

    one = members({"member_id": "solo", "timezone": "Asia/Tokyo", "is_leader": True})
    frame = assess_representation(
        one, signals(), pd.DataFrame({"member_id": ["solo"], "score": [5.0]}),
        as_of=AUDIT_AS_OF,
    ).frame
    assert list(frame["members"]) == [1, 1]
    assert list(frame["team_share"]) == [1.0, 1.0]
    assert list(frame["leaders_impact_ratio"]) == [1.0, 1.0]
    assert list(frame["top_scored"]) == [1, 1]
    assert frame["suppressed"].all()
    assert frame["high_share"].isna().all()  # no signals: the mix is undefined, not 0


def test_a_member_without_a_time_zone_is_reported_not_dropped() -> None:
    team, sig, scores = audit_team()
    hand_made = team.copy()
    hand_made.loc[hand_made["member_id"] == "k1", "timezone"] = pd.NA
    result = assess_representation(hand_made, sig, scores, as_of=AUDIT_AS_OF)
    assert list(result.quarantine["reason"]) == ["timezone is missing"]
    assert list(result.quarantine["source_id"]) == ["src-k1"]
    region = result.frame[result.frame["grouping"] == "region"]
    assert "Asia" not in set(region["group"])
    assert region["members"].sum() == 9


def test_scores_must_cover_every_member() -> None:
    team, sig, scores = audit_team()
    with pytest.raises(DataValidationError, match=r"no score for member.*'k1'"):
        assess_representation(team, sig, scores[scores["member_id"] != "k1"],
                              as_of=AUDIT_AS_OF)
    with pytest.raises(DataValidationError, match="min_group_size"):
        assess_representation(team, sig, scores, as_of=AUDIT_AS_OF, min_group_size=0)


def test_groups_of_empty_and_one_member_teams() -> None:
    empty = compute_timezone_groups(members(), as_of="2026-03-20")
    assert empty.frame.empty
    assert list(empty.frame.columns) == [
        "member_id", "timezone", "region", "utc_offset", "offset_band",
    ]
    one = compute_timezone_groups(members({"member_id": "solo", "timezone": "Asia/Kathmandu"}),
                                  as_of="2026-03-20").frame
    assert one.loc[0, "utc_offset"] == 5.75
    assert one.loc[0, "region"] == "Asia"
    assert one.loc[0, "offset_band"] == "UTC+04:00 to UTC+07:00"
