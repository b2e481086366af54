"""The default field layout: the seed's table and field names, in Notion and in Airtable.

A workspace that follows the seed's tracking table (``Team Member``,
``Signal Type``, ``Evidence``, ``Date``, ``Impact``, …) needs no mapping: the
connectors fall back to :func:`default_fields` for a table read without one,
``leadsync init`` writes it into ``leadsync.toml``, and the emulator builds its
sample workspaces from :data:`LAYOUT`, so a config written for one works
against the other.

Each :class:`TableLayout` is one canonical table; each :class:`FieldSpec` one
property (Notion) / field (Airtable) with its type in each service, the
canonical column it holds (or None for decoration such as formulas) and its
select options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from leadsync.tables import INDICATORS, PROJECT_KINDS, PROJECT_OUTCOMES

__all__ = [
    "LAYOUT",
    "AirtableType",
    "FieldSpec",
    "NotionType",
    "TableLayout",
    "default_fields",
    "layout",
]

#: The roles of members who are not leaders, and of leaders.
ROLES = ("Engineer", "Senior Engineer", "Staff Engineer")
LEADER_ROLES = ("Tech Lead", "Engineering Manager", "Staff Engineer")
#: The seed's one development track.
TRACK = "technical_leadership"
#: The ten time zones a Time zone select offers (the sample team lives in them).
ZONE_NAMES = (
    "America/New_York", "America/Los_Angeles", "America/Sao_Paulo", "Europe/London",
    "Europe/Berlin", "Africa/Lagos", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo",
    "Australia/Sydney",
)


NotionType = Literal[
    "title", "rich_text", "number", "select", "multi_select", "status", "date", "people",
    "relation", "rollup", "formula", "checkbox", "url", "email", "phone_number",
    "created_time", "last_edited_time", "created_by", "last_edited_by", "unique_id", "files",
]
AirtableType = Literal[
    "singleLineText", "multilineText", "richText", "number", "percent", "currency", "duration",
    "singleSelect", "multipleSelects", "date", "dateTime", "checkbox", "url", "email",
    "phoneNumber", "multipleRecordLinks", "singleCollaborator", "multipleCollaborators",
    "multipleLookupValues", "rollup", "formula", "count", "createdTime", "lastModifiedTime",
    "createdBy", "lastModifiedBy", "autoNumber", "multipleAttachments",
]


@dataclass(frozen=True)
class FieldSpec:
    """One property (Notion) / field (Airtable) of a sample table.

    ``column`` is the canonical column it holds (None for decoration such as
    formulas). ``notion``/``airtable`` give its type in each workspace (None:
    absent there). ``labels`` turn canonical values into the workspace's
    display labels (``"early_leadership"`` -> ``"Early leadership"``).
    ``extra`` carries type settings: ``target`` (the canonical table a
    relation/link points to), ``expression`` (Notion formula),
    ``airtable_formula``, ``relation``/``through`` and ``property``/``field``
    (rollup / lookup source), ``function`` (rollup function), ``prefix``
    (unique_id).
    """

    name: str
    notion: NotionType | None
    airtable: AirtableType | None
    column: str | None = None
    options: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def label(self, value: Any) -> Any:
        """The workspace's label for a canonical value."""
        if isinstance(value, str):
            return self.labels.get(value, value)
        return value


@dataclass(frozen=True)
class TableLayout:
    """A canonical table as the sample workspaces hold it."""

    table: str
    notion_title: str
    airtable_name: str
    fields: tuple[FieldSpec, ...]

    def for_service(self, service: Literal["notion", "airtable"]) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if getattr(f, service) is not None)


STAGE_LABELS = {
    "early_leadership": "Early leadership",
    "emerging_leader": "Emerging leader",
    "established_leader": "Established leader",
}

LAYOUT: tuple[TableLayout, ...] = (
    TableLayout("members", "Team Members", "Members", (
        FieldSpec("Name", "title", "singleLineText", "name"),
        FieldSpec("Person", "people", None, "member_id"),
        FieldSpec("Email", "email", "email", "email"),
        FieldSpec("Role", "select", "singleSelect", "role", ROLES + LEADER_ROLES[:2]),
        FieldSpec("Leader", "checkbox", "checkbox", "is_leader"),
        FieldSpec("Time zone", "select", "singleSelect", "timezone", ZONE_NAMES),
        FieldSpec("Working hours", "rich_text", "singleLineText", "working_hours"),
        FieldSpec("Track", "select", "singleSelect", "track", (TRACK,),
                  labels={TRACK: "Technical leadership"}),
        FieldSpec("Stage", "status", "singleSelect", "stage", tuple(STAGE_LABELS.values()),
                  labels=STAGE_LABELS),
        FieldSpec("Stage started", "date", "date", "stage_started"),
        FieldSpec("Mentor", "relation", "multipleRecordLinks", "mentor_id",
                  extra={"target": "members"}),
        FieldSpec("Member ID", "unique_id", "autoNumber", None, extra={"prefix": "TM"}),
        FieldSpec("Last edited", "last_edited_time", "lastModifiedTime", None),
    )),
    TableLayout("signals", "Leadership Signals", "Signals", (
        FieldSpec("Summary", "title", "singleLineText", "notes"),
        FieldSpec("Signal ID", "unique_id", None, "signal_id", extra={"prefix": "SIG"}),
        FieldSpec("Team Member", "people", "multipleRecordLinks", "member_id",
                  extra={"target": "members"}),
        FieldSpec("Signal Type", "select", "singleSelect", "signal_type",
                  ("Technical", "Operational", "Communication")),
        FieldSpec("Indicator", "select", "singleSelect", "indicator", tuple(INDICATORS)),
        FieldSpec("Evidence", "url", "url", "evidence"),
        FieldSpec("Date", "date", "dateTime", "date"),
        FieldSpec("Impact", "select", "singleSelect", "impact", ("Low", "Medium", "High")),
        FieldSpec("Observed by", "people", "singleCollaborator", "observed_by"),
        FieldSpec("Impact points", "formula", "formula", None, extra={
            "expression": 'if(prop("Impact") == "High", 9, if(prop("Impact") == "Medium", 3, 1))',
            "airtable_formula": "IF({Impact}='High',9,IF({Impact}='Medium',3,1))",
        }),
        FieldSpec("Member time zone", None, "multipleLookupValues", None,
                  extra={"through": "Team Member", "field": "Time zone"}),
        FieldSpec("Created", "created_time", "createdTime", None),
        FieldSpec("Last modified", "last_edited_time", "lastModifiedTime", None),
    )),
    TableLayout("milestones", "Track Milestones", "Milestones", (
        FieldSpec("Milestone", "title", "singleLineText", "milestone"),
        FieldSpec("Member", "relation", "multipleRecordLinks", "member_id",
                  extra={"target": "members"}),
        FieldSpec("Track", "select", "singleSelect", "track", (TRACK,),
                  labels={TRACK: "Technical leadership"}),
        FieldSpec("Stage", "select", "singleSelect", "stage", tuple(STAGE_LABELS.values()),
                  labels=STAGE_LABELS),
        FieldSpec("Completed", "date", "date", "completed_on"),
        FieldSpec("Evidence", "url", "url", "evidence"),
        FieldSpec("Member time zone", "rollup", "multipleLookupValues", None, extra={
            "relation": "Member", "property": "Time zone", "function": "show_original",
            "through": "Member", "field": "Time zone",
        }),
    )),
    TableLayout("checkins", "Mentor Check-ins", "Check-ins", (
        FieldSpec("Check-in", "title", "singleLineText", "checkin_id"),
        FieldSpec("Mentee", "relation", "multipleRecordLinks", "mentee_id",
                  extra={"target": "members"}),
        FieldSpec("Mentor", "people", "singleCollaborator", "mentor_id"),
        FieldSpec("Date", "date", "date", "date"),
        FieldSpec("Focus area", "rich_text", "singleLineText", "focus_area"),
        FieldSpec("Progress", "rich_text", "multilineText", "progress"),
        FieldSpec("Challenges", "rich_text", "multilineText", "challenges"),
        FieldSpec("Mentor observation", "rich_text", "multilineText", "observation"),
        FieldSpec("Next focus", "rich_text", "singleLineText", "next_focus"),
    )),
    TableLayout("rotations", "Sprint Lead Rotation", "Rotation", (
        FieldSpec("Sprint", "title", "singleLineText", "sprint"),
        FieldSpec("Starts", "date", "date", "starts_on"),
        FieldSpec("Lead", "rich_text", "singleLineText", "lead_id"),  # a name typed as text
    )),
    TableLayout("reviews", "Promotion Reviews", "Promotion Reviews", (
        FieldSpec("Review", "title", "singleLineText", "review_id"),
        FieldSpec("Nominee", "relation", "multipleRecordLinks", "nominee_id",
                  extra={"target": "members"}),
        FieldSpec("Proposed role", "select", "singleSelect", "proposed_role",
                  ("Senior Engineer", "Tech Lead", "Engineering Manager")),
        FieldSpec("Technical Excellence", "number", "number", "technical_excellence"),
        FieldSpec("Leadership Behaviors", "number", "number", "leadership_behaviors"),
        FieldSpec("Business Impact", "number", "number", "business_impact"),
        FieldSpec("Cultural Contribution", "number", "number", "cultural_contribution"),
        FieldSpec("Growth Trajectory", "number", "number", "growth_trajectory"),
        FieldSpec("Approvers", "people", "multipleCollaborators", "approvers"),
        FieldSpec("Decision", "status", "singleSelect", "decision",
                  ("Pending", "Declined", "Approved")),
        FieldSpec("Decided on", "date", "date", "decided_on"),
    )),
    # The seed's project-lead experiments. The lead is a person in Notion (like the
    # signal table's Team Member) and a linked member in Airtable; the sponsor a
    # relation in Notion and a collaborator in Airtable.
    TableLayout("projects", "Project Lead Experiments", "Projects", (
        FieldSpec("Project", "title", "singleLineText", "name"),
        FieldSpec("Project ID", "unique_id", None, "project_id", extra={"prefix": "PRJ"}),
        FieldSpec("Kind", "select", "singleSelect", "kind", PROJECT_KINDS),
        FieldSpec("Lead", "people", "multipleRecordLinks", "lead_id",
                  extra={"target": "members"}),
        FieldSpec("Sponsor", "relation", "singleCollaborator", "sponsor_id",
                  extra={"target": "members"}),
        FieldSpec("Started", "date", "date", "started_on"),
        FieldSpec("Ended", "date", "date", "ended_on"),
        FieldSpec("Success metrics", "rich_text", "multilineText", "success_metrics"),
        FieldSpec("Outcome", "status", "singleSelect", "outcome", PROJECT_OUTCOMES),
        FieldSpec("Evidence", "url", "url", "evidence"),
    )),
)


def layout(table: str) -> TableLayout:
    for item in LAYOUT:
        if item.table == table:
            return item
    raise KeyError(table)


def default_fields(service: Literal["notion", "airtable"], table: str) -> dict[str, str]:
    """The ``fields`` mapping of ``leadsync.toml`` for a sample table in ``service``."""
    return {
        f.column: f.name
        for f in layout(table).for_service(service)
        if f.column is not None
    }
