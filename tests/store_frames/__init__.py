"""The store's typed columns: frames read from them equal the per-row read path."""
