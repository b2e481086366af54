"""Reports: the report model, charts, renderers and writers (installed as ``leadsync.reports``)."""
