"""Connectors: the only code that talks to Notion and Airtable.

Installed as ``leadsync.connectors``.
"""
