"""Writers: a report or a promotion packet pushed into the workspace (the only I/O of reports).

Renderers stay pure; these modules take a rendered document and the
workspace config and do the HTTP, through the connectors' seams (Notion's
:class:`~leadsync.connectors.notion.NotionAPI`, Airtable's
:class:`~leadsync.connectors.airtable.AirtableClient`: the same pacing,
retries and error classification as the readers).
"""
