"""Canonical frames for the analytics tests, built through leadsync.tables.build_frame."""

from __future__ import annotations

from typing import Any

import pandas as pd

from leadsync.tables import build_frame, empty_frame


def frame(table: str, *rows: dict[str, Any]) -> pd.DataFrame:
    """A canonical frame of ``rows``; each row gets a ``source_id`` if it has none.

    Fails the test if build_frame quarantines anything: the analytics tests
    start from frames the foundation accepts.
    """
    if not rows:
        return empty_frame(table)
    key = {"members": "member_id", "signals": "signal_id", "milestones": "milestone_id",
           "checkins": "checkin_id", "rotations": "rotation_id", "reviews": "review_id",
           "projects": "project_id"}[table]
    records = []
    for i, row in enumerate(rows):
        record = dict(row)
        record.setdefault(key, f"{table[:3]}-{i}")
        record.setdefault("source_id", f"src-{record[key]}")
        if table == "members":
            record.setdefault("name", f"Name {record['member_id']}")
        records.append(record)
    result = build_frame(table, records)
    return result.raise_if_bad()


def members(*rows: dict[str, Any]) -> pd.DataFrame:
    return frame("members", *rows)


def signals(*rows: dict[str, Any]) -> pd.DataFrame:
    return frame("signals", *rows)


def signal(member_id: str, date: str, impact: str = "Medium", signal_type: str = "Technical",
           **extra: Any) -> dict[str, Any]:
    return {"member_id": member_id, "date": date, "impact": impact,
            "signal_type": signal_type, **extra}


def shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The same rows in another order, with a fresh index."""
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
