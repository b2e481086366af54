"""A local, stateful stand-in for the Notion and Airtable REST APIs.

The real ``notion-client`` and ``pyairtable`` talk to it over real HTTP on
loopback (``base_url`` / ``endpoint_url``). It keeps the published limits,
injects faults on demand, and can hold the deterministic sample organisation.
"""

from __future__ import annotations

from leadsync.emulator.core import Clock, Fault, FaultPlan, FrozenClock, Limits, Stats
from leadsync.emulator.sample import LAYOUT, SampleOrg, default_fields
from leadsync.emulator.server import AIRTABLE_TOKEN, NOTION_TOKEN, Emulator

__all__ = [
    "AIRTABLE_TOKEN",
    "LAYOUT",
    "NOTION_TOKEN",
    "Clock",
    "Emulator",
    "Fault",
    "FaultPlan",
    "FrozenClock",
    "Limits",
    "SampleOrg",
    "Stats",
    "default_fields",
]
