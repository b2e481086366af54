"""One client's pull of the signals table, for ``benchmarks/peers.py``: run in its own process.

Usage: ``python benchmarks/peers_client.py SPEC.json OUT.json``

``SPEC.json`` names the client (``leadsync-notion``, ``leadsync-airtable``,
``notion2pandas``, ``pyairtable``, ``pandas-airtable``), the emulator's
address and token, and where the table is. The script imports only the
standard library and the client's own packages (pandas among them), so it
runs with the project's interpreter for leadsync and with each peer's own
virtual environment for the peers (which have no leadsync). It times the
public call a notebook user makes, from the call to the frame, and writes
``OUT.json``: rows, seconds, and a description of every column of the frame
(dtype, the type of its values, list lengths), from which ``peers.py`` says
what each frame lacks. An exception is written as one line and exits 1.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

PACKAGES = {
    "leadsync-notion": ("leadsync", "notion-client", "pandas"),
    "leadsync-airtable": ("leadsync", "pyairtable", "pandas"),
    "notion2pandas": ("notion2pandas", "notion-client", "pandas"),
    "pyairtable": ("pyairtable", "pandas"),
    "pandas-airtable": ("pandas-airtable", "pyairtable", "pandas"),
}


def _present(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return False
    return not (isinstance(value, float) and math.isnan(value))


def describe(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per column: dtype, timezone, ordered or not, value type, list lengths."""
    columns: dict[str, dict[str, Any]] = {}
    for name in frame.columns:
        series = frame[name]
        values = [v for v in series.tolist() if _present(v)]
        lengths = [len(v) for v in values if isinstance(v, (list, tuple))]
        dtype = series.dtype
        first = values[0] if values else None
        columns[str(name)] = {
            "dtype": str(dtype),
            "datetime": pd.api.types.is_datetime64_any_dtype(dtype),
            "tz": str(getattr(dtype, "tz", None)) if getattr(dtype, "tz", None) else None,
            "categorical": isinstance(dtype, pd.CategoricalDtype),
            "ordered": bool(getattr(dtype, "ordered", False)),
            "value_type": type(first).__name__ if first is not None else None,
            "item_type": (type(first[0]).__name__ if isinstance(first, (list, tuple)) and first
                          else None),
            "example": repr(first)[:120] if first is not None else None,
            "present": len(values),
            "lists": len(lengths),
            "list_max": max(lengths) if lengths else None,
        }
    return columns


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(started: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - started[0], time.process_time() - started[1]


def pull(spec: dict[str, Any]) -> tuple[pd.DataFrame, tuple[float, float], int]:
    """The frame, the seconds and CPU seconds the public call took, and the rows it
    quarantined."""
    client = spec["client"]
    url, token, limited = spec["url"], spec["token"], spec["limited"]
    if client == "leadsync-notion":
        import leadsync

        # leadsync resolves member references with the members frame: read it first,
        # untimed (its requests are counted with the run's), as the README's notebook does.
        rps = 3.0 if limited else 1_000_000.0
        members = leadsync.read_notion(spec["members_database"], canonical="members",
                                       token=token, base_url=url, rps=rps, progress=False)
        started = _clock()
        frame = leadsync.read_notion(spec["database"], canonical="signals", members=members,
                                     token=token, base_url=url, rps=rps, progress=False)
        return frame, _since(started), len(frame.attrs.get("quarantine", []))
    if client == "leadsync-airtable":
        import leadsync

        at_rps = 5.0 if limited else None
        members = leadsync.read_airtable(spec["base"], spec["members_table"], canonical="members",
                                         token=token, endpoint_url=url, rps=at_rps,
                                         progress=False)
        started = _clock()
        frame = leadsync.read_airtable(spec["base"], spec["table"], canonical="signals",
                                       members=members, token=token, endpoint_url=url,
                                       rps=at_rps, progress=False)
        return frame, _since(started), len(frame.attrs.get("quarantine", []))
    if client == "notion2pandas":
        from notion2pandas import Notion2PandasClient  # type: ignore[import-not-found]

        # notion-client's own option: base_url.
        n2p = Notion2PandasClient(auth=token, base_url=url)
        started = _clock()
        frame = n2p.get_dataframe(spec["database"])
        return frame, _since(started), 0
    if client == "pyairtable":
        from pyairtable import Api

        table = Api(token, endpoint_url=url).table(spec["base"], spec["table"])
        started = _clock()
        records = table.all()
        frame = pd.DataFrame([r["fields"] for r in records], index=[r["id"] for r in records])
        return frame, _since(started), 0
    if client == "pandas-airtable":
        import functools

        import pandas_airtable.reader as reader  # type: ignore[import-not-found]
        from pyairtable import Api

        # read_airtable has no option for the API's address: it builds pyairtable's
        # Api(api_key) itself. Patched here to give it pyairtable's own endpoint_url.
        reader.Api = functools.partial(Api, endpoint_url=url)
        started = _clock()
        frame = reader.read_airtable(spec["base"], spec["table"], api_key=token)
        return frame, _since(started), 0
    raise SystemExit(f"unknown client {client!r}")


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    out = Path(argv[2])
    try:
        frame, (seconds, cpu), quarantined = pull(spec)
    except BaseException as exc:  # one line for the results, whatever it was
        message = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
        out.write_text(json.dumps({"error": message}), encoding="utf-8")
        return 1
    result = {
        "client": spec["client"],
        "rows": len(frame) + quarantined,
        "frame_rows": len(frame),
        "quarantined": quarantined,
        "seconds": seconds,
        "call_cpu_seconds": round(cpu, 3),
        "columns": describe(frame),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in PACKAGES.get(spec["client"], ())},
    }
    out.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
