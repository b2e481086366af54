"""The sample organisation: a deterministic distributed engineering org.

:meth:`SampleOrg.generate` builds the canonical records (members, signals,
milestones, check-ins, rotations, reviews, project-lead experiments) from a
seed and a size; the
emulator's services write them into a Notion workspace and an Airtable base
following :data:`~leadsync.layout.LAYOUT` (the seed's field names, a core
module: :func:`~leadsync.layout.default_fields` gives the matching ``fields``
mapping for ``leadsync.toml``; both are re-exported here).

Records hold canonical column names and plain Python values. Member
references (``member_id``, ``mentor_id``, ``observed_by``, ``lead_id``,
``approvers`` …) hold *member keys* (``"m001"``), which each workspace turns
into its own people, relations or text. The org is built to show what
leadsync is for: leaders concentrated in the Americas and London while the
team spans ten time zones on five continents; fewer signals recorded for
members far from the observers; a few members who went quiet; check-ins that
are overdue; project-lead experiments (shadow, pilot, improvement) that go
mostly to the pipeline near the leaders, as the seed warns they drift; and a
small share of malformed rows that must be quarantined.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadsync.layout import (
    LAYOUT,
    LEADER_ROLES,
    ROLES,
    TRACK,
    ZONE_NAMES,
    AirtableType,
    FieldSpec,
    NotionType,
    TableLayout,
    default_fields,
    layout,
)
from leadsync.tables import INDICATORS, PROJECT_KINDS, STAGES

__all__ = [
    "LAYOUT",
    "AirtableType",
    "FieldSpec",
    "NotionType",
    "SampleOrg",
    "TableLayout",
    "default_fields",
    "layout",
]

#: The sample organisation's reference date (the day the demo reports on).
DEFAULT_AS_OF = dt.date(2026, 11, 1)

#: Where the team lives: zone, share of non-leaders, share of leaders.
_ZONE_WEIGHTS: Mapping[str, tuple[float, float]] = {
    "America/New_York": (8, 4),
    "America/Los_Angeles": (6, 3),
    "America/Sao_Paulo": (5, 0),
    "Europe/London": (5, 1),
    "Europe/Berlin": (6, 0),
    "Africa/Lagos": (4, 0),
    "Asia/Kolkata": (7, 0),
    "Asia/Singapore": (4, 0),
    "Asia/Tokyo": (3, 0),
    "Australia/Sydney": (4, 0),
}
ZONES: tuple[tuple[str, float, float], ...] = tuple(
    (zone, *_ZONE_WEIGHTS[zone]) for zone in ZONE_NAMES)

#: Fewer signals get written down for people far from the (mostly American) observers.
OBSERVER_BIAS: Mapping[str, float] = {
    "America": 1.25, "Europe": 1.0, "Africa": 0.6, "Asia": 0.65, "Australia": 0.6,
}

WORKING_HOURS = ("09:00-17:00", "09:00-17:00", "08:00-16:00", "10:00-18:00", "08:30-17:30")

#: The seed's technical leadership track: stage -> (months expected, milestones).
TRACK_STAGES: Mapping[str, tuple[int, tuple[str, ...]]] = {
    "early_leadership": (3, (
        "Mentored 2+ junior engineers through complete features",
        "Led 1 cross-team technical initiative",
        "Facilitated 3+ architecture discussions",
        "Created documentation used by 5+ team members",
    )),
    "emerging_leader": (6, (
        "Delivered project without direct supervision",
        "Managed stakeholder expectations on technical scope",
        "Coached teammate through blockers",
        "Presented technical vision to leadership",
    )),
    "established_leader": (12, (
        "Led team through major technical transition",
        "Hired and onboarded 2+ engineers",
        "Set technical direction for project area",
        "Developed team's technical skills through training",
    )),
}

FIRST_NAMES = (
    "Ada", "Bo", "Chidi", "Dara", "Elif", "Farah", "Gustavo", "Hana", "Ines", "Jun", "Kwame",
    "Leila", "Mateo", "Nadia", "Oskar", "Priya", "Quinn", "Rafael", "Sana", "Tomás", "Uma",
    "Viktor", "Wen", "Ximena", "Yusuf", "Zofia", "Amara", "Björn", "Chen", "Devi", "Emeka",
    "Fatima", "Goran", "Hiro", "Isabel", "Jonas", "Kavya", "Lucas", "Mei", "Nikhil",
)
LAST_NAMES = (
    "Okafor", "Lindqvist", "Tanaka", "Moreau", "Silva", "Haddad", "Kowalski", "Nguyen",
    "Mensah", "Fischer", "Iyer", "Costa", "Park", "Adeyemi", "Novak", "Rossi", "Sato",
    "Brennan", "Oliveira", "Khan", "Weber", "Achebe", "Lopez", "Yamamoto", "Schmidt",
)
REPOS = ("payments-api", "web-app", "infra", "mobile", "data-platform", "auth-service", "docs")
FOCUS_AREAS = (
    "Async facilitation", "Technical writing", "Stakeholder management", "Architecture reviews",
    "Coaching teammates", "Cross-team coordination", "Delegation",
)

_MALFORMED_EVIDENCE = ("see Slack thread", "PR in payments repo", "docs page (link later)")


@dataclass
class SampleOrg:
    """Canonical records of a generated organisation (member references are member keys)."""

    seed: int
    as_of: dt.date
    members: list[dict[str, Any]]
    signals: list[dict[str, Any]]
    milestones: list[dict[str, Any]]
    checkins: list[dict[str, Any]]
    rotations: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    projects: list[dict[str, Any]]

    def table(self, name: str) -> list[dict[str, Any]]:
        """The records of one canonical table."""
        records: list[dict[str, Any]] = getattr(self, name)
        return records

    @property
    def tables(self) -> dict[str, list[dict[str, Any]]]:
        return {name: self.table(name) for name in
                ("members", "signals", "milestones", "checkins", "rotations", "reviews",
                 "projects")}

    def member(self, key: str) -> dict[str, Any]:
        for record in self.members:
            if record["member_id"] == key:
                return record
        raise KeyError(key)

    @classmethod
    def generate(
        cls,
        seed: int = 0,
        *,
        members: int = 60,
        signals: int | None = None,
        months: int = 12,
        as_of: dt.date = DEFAULT_AS_OF,
        malformed_rate: float = 0.01,
    ) -> SampleOrg:
        """Build an organisation. The same arguments always give the same records.

        ``signals`` defaults to about 2.8 a member a month; benchmarks pass
        100,000 and more. ``malformed_rate`` is the share of signals with a
        defect leadsync must quarantine (an impact outside the vocabulary, a
        missing date or member, a signal type nobody defined).
        """
        if members < 1:
            raise ValueError("an organisation needs at least one member")
        rng = random.Random(f"sample:{seed}")
        start = as_of - dt.timedelta(days=round(months * 30.44))
        people = _members(rng, members, as_of)
        n_signals = signals if signals is not None else round(members * months * 2.8)
        return cls(
            seed=seed,
            as_of=as_of,
            members=people,
            signals=_signals(rng, people, n_signals, start, as_of, malformed_rate),
            milestones=_milestones(rng, people, as_of),
            checkins=_checkins(rng, people, as_of),
            rotations=_rotations(rng, people, as_of, months),
            reviews=_reviews(rng, people, as_of),
            # Their own stream, so the other tables are what they were before projects.
            projects=_projects(random.Random(f"sample:{seed}:projects"), people, as_of,
                               malformed_rate),
        )


# ---------------------------------------------------------------------------
# Generators (one per table)


def _region(zone: str) -> str:
    return zone.split("/", 1)[0]


def _members(rng: random.Random, count: int, as_of: dt.date) -> list[dict[str, Any]]:
    n_leaders = max(1, round(count * 8 / 60)) if count > 1 else 1
    leader_zones = [z for z, _, lw in ZONES for _ in range(int(lw))]
    other_weights = [w for _, w, _ in ZONES]
    other_zones = [z for z, _, _ in ZONES]
    records: list[dict[str, Any]] = []
    seen_emails: set[str] = set()
    for i in range(count):
        key = f"m{i + 1:03d}" if count < 1000 else f"m{i + 1:06d}"
        first = FIRST_NAMES[(i * 7 + rng.randrange(len(FIRST_NAMES))) % len(FIRST_NAMES)]
        last = LAST_NAMES[rng.randrange(len(LAST_NAMES))]
        name = f"{first} {last}"
        email = f"{first}.{last}".lower().replace("á", "a").replace("ö", "o") + "@example.com"
        n = 2
        while email in seen_emails:
            email = email.replace("@", f"{n}@", 1) if n == 2 else email.replace(
                f"{n - 1}@", f"{n}@", 1)
            n += 1
        seen_emails.add(email)
        is_leader = i < n_leaders
        zone = (leader_zones[i % len(leader_zones)] if is_leader
                else rng.choices(other_zones, weights=other_weights)[0])
        records.append({
            "member_id": key,
            "name": name if name not in {r["name"] for r in records[-50:]} else f"{name} {i}",
            "email": email,
            "role": rng.choice(LEADER_ROLES if is_leader else ROLES),
            "is_leader": is_leader,
            "timezone": zone,
            "working_hours": rng.choice(WORKING_HOURS),
            "track": None,
            "stage": None,
            "stage_started": None,
            "mentor_id": None,
        })
    leaders = [r["member_id"] for r in records if r["is_leader"]]
    # About a third of the rest are on the technical leadership track, mentored by a leader.
    for record in records:
        if record["is_leader"] or rng.random() > 0.36:
            continue
        stage = rng.choices(STAGES, weights=(5, 3, 1))[0]
        months_in = rng.uniform(0.3, TRACK_STAGES[stage][0] * 1.6)
        record["track"] = TRACK
        record["stage"] = stage
        record["stage_started"] = as_of - dt.timedelta(days=round(months_in * 30.44))
        record["mentor_id"] = rng.choice(leaders)
    return records


def _evidence(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.55:
        return f"https://github.com/acme/{rng.choice(REPOS)}/pull/{rng.randint(100, 9999)}"
    if kind < 0.8:
        return f"https://docs.acme.example/adr/{rng.randint(1, 400):04d}"
    return (f"https://acme.slack.com/archives/C0{rng.randint(10**7, 10**8 - 1)}"
            f"/p{rng.randint(10**15, 10**16 - 1)}")


def _signals(rng: random.Random, people: list[dict[str, Any]], count: int,
             start: dt.date, as_of: dt.date, malformed_rate: float) -> list[dict[str, Any]]:
    if count <= 0:
        return []
    keys = [p["member_id"] for p in people]
    weights: list[float] = []
    for p in people:
        w = 1.5 if p["is_leader"] else (1.3 if p["track"] else 0.8)
        w *= OBSERVER_BIAS.get(_region(p["timezone"]), 1.0)
        w *= rng.uniform(0.5, 1.5)
        weights.append(w)
    # A few once-active members went quiet in the last two months (seed 001).
    others = [i for i, p in enumerate(people) if not p["is_leader"]]
    quiet = set(rng.sample(others, k=min(len(others), max(1, len(people) // 20))))
    for i in quiet:
        weights[i] *= 1.6
    leaders = [p["member_id"] for p in people if p["is_leader"]]
    indicators = list(INDICATORS)
    span = (as_of - start).days
    quiet_cutoff = as_of - dt.timedelta(days=60)
    owners = rng.choices(range(len(people)), weights=weights, k=count)
    records: list[dict[str, Any]] = []
    for n, owner in enumerate(owners):
        day = start + dt.timedelta(days=rng.randrange(span))
        if owner in quiet and day > quiet_cutoff:
            day = quiet_cutoff - dt.timedelta(days=rng.randrange(1, 120))
        indicator = rng.choice(indicators)
        when: dt.date | dt.datetime = day
        if rng.random() < 0.1:  # some are stamped with a local time and offset
            zone = dt.timezone(dt.timedelta(hours=rng.choice((-7, -4, 0, 1, 5.5, 9, 10))))
            when = dt.datetime(day.year, day.month, day.day, rng.randint(8, 18),
                               rng.choice((0, 15, 30, 45)), tzinfo=zone)
        evidence_draw = rng.random()
        evidence: str | None = (
            _evidence(rng) if evidence_draw < 0.85
            else (None if evidence_draw < 0.99 else rng.choice(_MALFORMED_EVIDENCE))
        )
        observer = rng.choice(leaders) if rng.random() < 0.7 else None
        repo = rng.choice(REPOS)
        record: dict[str, Any] = {
            "signal_id": f"SIG-{n + 1}",
            "member_id": keys[owner],
            "signal_type": INDICATORS[indicator],
            "indicator": indicator,
            "evidence": evidence,
            "date": when,
            "impact": rng.choices(("Low", "Medium", "High"), weights=(50, 35, 15))[0],
            "observed_by": observer if observer != keys[owner] else None,
            "notes": f"{indicator} ({repo})",
        }
        if rng.random() < malformed_rate:
            defect = rng.randrange(4)
            if defect == 0:
                record["impact"] = rng.choice(("Huge", "Critical"))
            elif defect == 1:
                record["date"] = None
            elif defect == 2:
                record["member_id"] = None
            else:
                record["signal_type"] = "Social"
        records.append(record)
    return records


def _milestones(rng: random.Random, people: list[dict[str, Any]],
                as_of: dt.date) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for p in people:
        if not p["track"]:
            continue
        current = STAGES.index(p["stage"])
        started: dt.date = p["stage_started"]
        for stage in STAGES[: current + 1]:
            months, items = TRACK_STAGES[stage]
            if stage == p["stage"]:
                elapsed = (as_of - started).days / (months * 30.44)
                done = min(len(items), int(len(items) * elapsed * rng.uniform(0.5, 1.3)))
            else:
                done = len(items)
            for j, item in enumerate(items):
                finished: dt.date | None = None
                if j < done:
                    window = max(1, (as_of - started).days) if stage == p["stage"] else 90
                    anchor = started if stage == p["stage"] else started - dt.timedelta(days=95)
                    finished = min(as_of, anchor + dt.timedelta(days=rng.randrange(window)))
                records.append({
                    "milestone_id": f"MS-{len(records) + 1}",
                    "member_id": p["member_id"],
                    "track": TRACK,
                    "stage": stage,
                    "milestone": item,
                    "completed_on": finished,
                    "evidence": _evidence(rng) if finished and rng.random() < 0.6 else None,
                })
    return records


def _checkins(rng: random.Random, people: list[dict[str, Any]],
              as_of: dt.date) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for p in people:
        if not p["mentor_id"]:
            continue
        first = max(p["stage_started"], as_of - dt.timedelta(days=180))
        # A quarter of the pairs stopped meeting a while ago: they are overdue.
        last = as_of - dt.timedelta(days=rng.randint(21, 60)) if rng.random() < 0.25 else as_of
        day = first + dt.timedelta(days=rng.randrange(0, 7))
        while day <= last:
            focus = rng.choice(FOCUS_AREAS)
            records.append({
                "checkin_id": f"CI-{len(records) + 1}",
                "mentee_id": p["member_id"],
                "mentor_id": p["mentor_id"],
                "date": day,
                "focus_area": focus,
                "progress": f"Moved forward on {focus.lower()}",
                "challenges": rng.choice(("Time-zone gaps with reviewers", "Competing priorities",
                                          "Unclear ownership", None)),
                "observation": rng.choice(("Clear async updates", "Needs more delegation",
                                           "Strong written design docs", None)),
                "next_focus": rng.choice(FOCUS_AREAS),
            })
            day += dt.timedelta(days=14 + rng.choice((-1, 0, 0, 0, 1, 2)))
    return records


def _rotations(rng: random.Random, people: list[dict[str, Any]], as_of: dt.date,
               months: int) -> list[dict[str, Any]]:
    # The seed's rotation: one team of eight takes turns leading each sprint.
    team = [p for p in people if not p["is_leader"]][:8] or people[:1]
    sprints = max(1, round(months * 30.44 / 14))
    first = as_of - dt.timedelta(days=14 * sprints)
    order = list(range(len(team)))
    rng.shuffle(order)
    records = []
    for n in range(sprints):
        lead = team[order[n % len(order)]]
        records.append({
            "rotation_id": f"ROT-{n + 1}",
            "sprint": f"Sprint {n + 1}",
            "starts_on": first + dt.timedelta(days=14 * n),
            "lead_id": lead["member_id"],
        })
    return records


def _reviews(rng: random.Random, people: list[dict[str, Any]],
             as_of: dt.date) -> list[dict[str, Any]]:
    nominees = [p for p in people if p["stage"] in ("emerging_leader", "established_leader")]
    nominees = nominees[:5] or [p for p in people if not p["is_leader"]][:2]
    leaders = [p["member_id"] for p in people if p["is_leader"]]
    decisions = ("Approved", "Pending", "Declined", "Approved", "Pending")
    records = []
    for n, p in enumerate(nominees):
        decision = decisions[n % len(decisions)]
        approvers = (rng.sample(leaders, k=min(len(leaders), 3 if decision == "Approved" else
                                               rng.randint(1, 2))))
        records.append({
            "review_id": f"PR-{n + 1}",
            "nominee_id": p["member_id"],
            "proposed_role": "Tech Lead" if p["stage"] == "established_leader" else
            "Senior Engineer",
            "technical_excellence": rng.choice((3.0, 3.5, 4.0, 4.5, 5.0)),
            "leadership_behaviors": rng.choice((2.5, 3.0, 3.5, 4.0, 4.5)),
            "business_impact": rng.choice((3.0, 3.5, 4.0, 4.5)),
            "cultural_contribution": rng.choice((3.0, 4.0, 5.0)),
            "growth_trajectory": rng.choice((3.0, 3.5, 4.0, 5.0)),
            "approvers": approvers,
            "decision": decision,
            "decided_on": (as_of - dt.timedelta(days=rng.randint(5, 60))
                           if decision != "Pending" else None),
        })
    return records


#: Project names by kind (the seed's three project-lead experiments).
PROJECT_TOPICS: Mapping[str, tuple[str, ...]] = {
    "Shadow": ("Shadow quarterly planning", "Shadow the incident reviews",
               "Shadow roadmap planning", "Shadow the architecture council"),
    "Pilot": ("Cross-team on-call handbook", "Shared design-review rota",
              "API deprecation pilot", "Async stand-up pilot", "Release train pilot"),
    "Improvement": ("Cut CI time", "Shorten PR review wait", "Faster onboarding",
                    "Flaky test triage", "Post-incident follow-ups"),
}
_METRICS = ("p50 CI time under 10 minutes", "median review wait under 24 hours",
            "new hires ship in their first week", "flaky tests under 1% of runs",
            "every action item closed within 30 days")
#: Days before as_of a project of each kind starts (low, high), and how long it runs.
_PROJECT_TIMING: Mapping[str, tuple[int, int, int, int]] = {
    "Shadow": (30, 330, 30, 60),
    "Pilot": (20, 220, 60, 120),
    "Improvement": (10, 160, 60, 120),
}


def _projects(rng: random.Random, people: list[dict[str, Any]], as_of: dt.date,
              malformed_rate: float) -> list[dict[str, Any]]:
    """Project-lead experiments, climbing the seed's ladder with the member's stage.

    Shadowing is offered across the pipeline; pilots and improvements go mostly
    to members in the leaders' regions (the drift the seed warns of). A few
    rows carry the defects the data-quality checks look for: a pilot with no
    sponsor, an improvement with no success metrics, a finished project with
    no outcome; with ``malformed_rate`` above 0 one row has a kind nobody
    defined (quarantined).
    """
    leaders = [p["member_id"] for p in people if p["is_leader"]]
    # The region most leaders live in: the opportunities drift there.
    home = Counter(_region(p["timezone"]) for p in people if p["is_leader"]).most_common(1)
    pipeline = [p for p in people if p["track"]]
    others = [p for p in people if not p["track"] and not p["is_leader"]]
    plan: list[tuple[str, dict[str, Any]]] = []
    for p in pipeline:
        near = bool(home) and _region(p["timezone"]) == home[0][0]
        rung = STAGES.index(p["stage"])
        if rng.random() < (0.9 if near else 0.6):
            plan.append(("Shadow", p))
        if rng.random() < (0.85 if near else (0.15 if rung >= 1 else 0.0)):
            plan.append(("Pilot", p))
        if rng.random() < ((0.6 if rung >= 1 else 0.2) if near else (0.1 if rung >= 1 else 0)):
            plan.append(("Improvement", p))
    # Someone off the track owns an improvement now and then.
    plan += [("Improvement", p) for p in others[:2]]
    records: list[dict[str, Any]] = []
    for kind, p in plan:
        low, high, shortest, longest = _PROJECT_TIMING[kind]
        started = as_of - dt.timedelta(days=rng.randint(low, high))
        ended = started + dt.timedelta(days=rng.randint(shortest, longest))
        done = ended < as_of
        outcome = (rng.choices(("Succeeded", "Partly", "Did not"), weights=(6, 3, 1))[0]
                   if done else "Ongoing")
        sponsor = rng.choice(leaders) if kind == "Pilot" and leaders else None
        metrics = (rng.choice(_METRICS) if kind == "Improvement"
                   or (kind == "Pilot" and rng.random() < 0.5) else None)
        records.append({
            "project_id": f"PRJ-{len(records) + 1}",
            "name": rng.choice(PROJECT_TOPICS[kind]),
            "kind": kind,
            "lead_id": p["member_id"],
            "sponsor_id": sponsor if sponsor != p["member_id"] else None,
            "started_on": started,
            "ended_on": ended,
            "success_metrics": metrics,
            "outcome": outcome,
            "evidence": _evidence(rng) if done and rng.random() < 0.8 else None,
        })
    # One of each defect the checks find, on the first row that can carry it.
    for record in records:
        if record["kind"] == "Pilot":
            record["sponsor_id"] = None
            break
    for record in records:
        if record["kind"] == "Improvement":
            record["success_metrics"] = None
            break
    for record in reversed(records):
        if record["outcome"] not in ("Ongoing", None) and record["kind"] == "Shadow":
            record["outcome"] = None
            break
    if malformed_rate > 0 and records:
        records[len(records) // 2]["kind"] = "Hackathon"
    assert all(r["kind"] in (*PROJECT_KINDS, "Hackathon") for r in records)
    return records
