"""Files out of the store: the canonical tables, their tombstones and the quarantine,
as Parquet (through pyarrow) or CSV.

What this module owns
    - :func:`arrow_schema` / :func:`to_arrow`: the Arrow type of every canonical
      column, declared from :mod:`leadsync.tables` (never inferred from the
      values): text as nullable ``string``, vocabularies as ordered
      dictionary-encoded strings, dates as ``timestamp[ns, tz=UTC]``, flags as
      nullable ``bool``, scores as ``double``, member lists as
      ``list<string>``. Each categorical's vocabulary, in order, is in the
      schema metadata (key ``leadsync``) and on its field, so a reader that
      does not know pandas still finds it.
    - :func:`render_parquet` / :func:`render_csv`: pure, a frame in, bytes out.
      A CSV cell of workspace text that starts with ``=``, ``+``, ``-``, ``@``
      (or a tab or carriage return) is prefixed with ``'`` so that a
      spreadsheet shows it as text instead of running it as a formula.
    - :func:`read_parquet`: a file written here back into the store's exact
      frame (member lists as tuples, categories in their order).
    - :func:`export_store`: the I/O: every file written atomically (a
      temporary file in the same directory, flushed, then renamed over the
      target) and owner-only (0600), like the store; the temporary files of
      an export killed mid-write are removed by the next one.

``pandas.read_parquet`` alone already returns the store's dtypes (string,
boolean, Float64, ordered categoricals with every category, tz-aware UTC);
only ``reviews.approvers`` comes back as arrays instead of tuples, which
:func:`read_parquet` turns back.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from leadsync.errors import ConfigError, StoreError
from leadsync.tables import QUARANTINE_COLUMNS, TABLES, Column, schema

if TYPE_CHECKING:
    import pyarrow as pa

    from leadsync.store import Store

__all__ = [
    "FORMATS",
    "FORMULA_PREFIXES",
    "ExportedFile",
    "Format",
    "arrow_schema",
    "export_store",
    "inert",
    "read_parquet",
    "render_csv",
    "render_parquet",
    "to_arrow",
    "write_atomic",
]

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "csv")

#: What a spreadsheet takes for the start of a formula (OWASP's list): a text
#: cell starting with one of these gets a leading ``'``.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

#: Schema metadata key holding leadsync's description of a file.
METADATA_KEY = b"leadsync"

Kind = Literal["table", "tombstones", "quarantine"]

_TEXT_KINDS = frozenset({"id", "text", "url", "email", "timezone", "hours", "member"})


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ModuleNotFoundError:
        raise ConfigError("Parquet needs pyarrow, an optional extra: "
                          "pip install 'leadsync[parquet]' (or use --format csv)") from None
    return pyarrow


# ---------------------------------------------------------------------------
# Arrow types, declared from the canonical tables


def _arrow_type(column: Column) -> pa.DataType:
    pa = _pyarrow()
    if column.kind == "category":
        return pa.dictionary(pa.int8(), pa.string(), ordered=True)
    if column.kind == "timestamp":
        return pa.timestamp("ns", tz="UTC")
    if column.kind == "boolean":
        return pa.bool_()
    if column.kind == "number":
        return pa.float64()
    if column.kind == "members":
        return pa.list_(pa.string())
    assert column.kind in _TEXT_KINDS, column.kind
    return pa.string()


def _columns(table: str, kind: Kind) -> list[Column]:
    """The columns of a file: the canonical ones (with ``deleted_at`` for tombstones),
    or the quarantine's."""
    if kind == "quarantine":
        return [*(Column(name, "text") for name in QUARANTINE_COLUMNS),
                Column("seen_at", "timestamp")]
    spec = schema(table)
    meta = [Column("source_id", "id"), Column("created_time", "timestamp"),
            Column("last_edited_time", "timestamp")]
    columns = [*spec.columns, *meta]
    if kind == "tombstones":
        columns.append(Column("deleted_at", "timestamp"))
    return columns


def arrow_schema(table: str, *, kind: Kind = "table",
                 deleted_at: bool = False) -> pa.Schema:
    """The Arrow schema of ``table``'s file (``kind="quarantine"``: the quarantine's).

    ``deleted_at=True`` (or ``kind="tombstones"``) adds the ``deleted_at``
    column. Categorical fields carry ``leadsync.categories`` (a JSON list, in
    order) and ``leadsync.ordered`` in their field metadata; the schema's
    ``leadsync`` metadata repeats them with the table's name and the file's kind.
    """
    pa = _pyarrow()
    columns = _columns(table, "tombstones" if deleted_at else kind)
    fields = []
    categories: dict[str, list[str]] = {}
    for column in columns:
        metadata = None
        if column.kind == "category":
            categories[column.name] = list(column.vocabulary)
            metadata = {b"leadsync.categories": json.dumps(list(column.vocabulary)).encode(),
                        b"leadsync.ordered": b"true"}
        nullable = column.name != "source_id" or kind == "quarantine"
        fields.append(pa.field(column.name, _arrow_type(column), nullable=nullable,
                               metadata=metadata))
    described = {"table": table if kind != "quarantine" else None, "kind": kind,
                 "deleted_at": deleted_at or kind == "tombstones",
                 "categories": categories, "ordered": sorted(categories),
                 "members_lists": [c.name for c in columns if c.kind == "members"]}
    return pa.schema(fields, metadata={METADATA_KEY: json.dumps(described).encode()})


def to_arrow(frame: pd.DataFrame, table: str, *, kind: Kind = "table",
             deleted_at: bool = False) -> pa.Table:
    """``frame`` (a store frame of ``table``, or the quarantine) as an Arrow table
    with :func:`arrow_schema`, plus pandas' own metadata so that
    ``pandas.read_parquet`` restores the nullable dtypes."""
    pa = _pyarrow()
    target = arrow_schema(table, kind=kind, deleted_at=deleted_at)
    data = frame[target.names].copy()
    for field in target:
        if pa.types.is_list(field.type):  # tuples of member ids
            data[field.name] = data[field.name].map(
                lambda v: None if v is None else [str(x) for x in v])
    converted = pa.Table.from_pandas(data, schema=target, preserve_index=False)
    metadata = dict(converted.schema.metadata or {})
    metadata.update(target.metadata)
    return converted.replace_schema_metadata(metadata)


# ---------------------------------------------------------------------------
# Rendering (pure)


def render_parquet(frame: pd.DataFrame, table: str, *, kind: Kind = "table",
                   deleted_at: bool = False) -> bytes:
    """The Parquet file of ``frame`` (zstd-compressed, dictionary-encoded categoricals)."""
    import pyarrow.parquet as pq

    arrow = to_arrow(frame, table, kind=kind, deleted_at=deleted_at)
    sink = io.BytesIO()
    pq.write_table(arrow, sink, compression="zstd", version="2.6")
    return sink.getvalue()


def inert(text: str) -> str:
    """``text`` as a spreadsheet shows it, never runs it: a leading ``'`` when it
    would start a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_cells(series: pd.Series) -> Iterator[str]:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        for value in series:
            yield "" if pd.isna(value) else value.isoformat()
    elif isinstance(dtype, pd.BooleanDtype):
        for value in series:
            yield "" if pd.isna(value) else ("true" if value else "false")
    elif isinstance(dtype, pd.Float64Dtype):
        for value in series:
            yield "" if pd.isna(value) else repr(float(value))
    else:  # text, categoricals, member lists: workspace text, made inert
        for value in series:
            if isinstance(value, tuple):
                yield inert("; ".join(str(v) for v in value))
            elif value is None or value is pd.NA or (isinstance(value, float) and value != value):
                yield ""
            else:
                yield inert(str(value))


def render_csv(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV with a header: RFC 4180 quoting, dates in ISO 8601
    (UTC), flags ``true``/``false``, member lists joined with ``"; "``, every
    text cell that would start a formula made inert (:func:`inert`)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([inert(str(c)) for c in frame.columns])
    columns = [list(_csv_cells(frame[name])) for name in frame.columns]
    writer.writerows(zip(*columns, strict=True))
    return out.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------
# Reading back


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A file :func:`export_store` wrote, as the store's frame: the same columns and
    dtypes, categories in their order (from the file's metadata), member lists
    as tuples."""
    import pyarrow.parquet as pq

    frame = pd.read_parquet(path)
    raw = pq.read_schema(path).metadata or {}
    described = json.loads(raw.get(METADATA_KEY, b"{}"))
    for name, categories in described.get("categories", {}).items():
        if name in frame.columns:
            frame[name] = pd.Categorical(frame[name].astype("object").where(
                frame[name].notna(), None), categories=categories, ordered=True)
    for name in described.get("members_lists", []):
        if name in frame.columns:
            frame[name] = pd.Series(
                [() if v is None else tuple(str(x) for x in v) for v in frame[name]],
                index=frame.index, dtype="object")
    return frame


# ---------------------------------------------------------------------------
# Writing (I/O)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole
    new one, never a part: a 0600 temporary file beside it, flushed to disk,
    renamed over ``path``. The directory entry is flushed too."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _remove_leftovers(out: Path) -> None:
    """Temporary files an export killed mid-write left behind (never a final name)."""
    for ext in FORMATS:
        for leftover in out.glob(f".*.{ext}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()


@dataclass(frozen=True)
class ExportedFile:
    """One file :func:`export_store` wrote."""

    path: Path
    table: str | None
    kind: Kind
    rows: int


def synced_tables(store: Store) -> list[str]:
    """The canonical tables the store has synced at least once, in canonical order."""
    return [name for name in TABLES if store.cursor(name) is not None]


def choose_tables(store: Store, tables: Sequence[str] | None) -> list[str]:
    """``tables`` in canonical order, or every synced table; a :class:`ConfigError`
    names a table the store never synced."""
    synced = synced_tables(store)
    if not tables:
        return synced
    for name in tables:
        schema(name)
    missing = [name for name in tables if name not in synced]
    if missing:
        raise ConfigError(
            f"the store {store.path} holds no {', '.join(missing)} table yet (synced: "
            f"{', '.join(synced) or 'none'}); run `leadsync sync` first")
    return [name for name in TABLES if name in tables]


def export_store(store: Store, out_dir: str | os.PathLike[str], *, format: Format = "parquet",
                 tables: Sequence[str] | None = None,
                 include_deleted: bool = False) -> list[ExportedFile]:
    """Write the store's tables, their tombstones and the quarantine into ``out_dir``.

    Files: ``<table>.<ext>`` (the rows of :meth:`Store.frame`), and unless
    ``include_deleted``, ``<table>.tombstones.<ext>`` (:meth:`Store.tombstones`:
    rows deleted upstream with their last values and ``deleted_at``); with
    ``include_deleted``, ``<table>.<ext>`` holds both, with ``deleted_at``
    empty on live rows. Then ``quarantine.<ext>`` (the rows of the exported
    tables that did not fit, with the reason). ``tables`` defaults to every
    table the store has synced; naming one it never synced is a
    :class:`ConfigError`.

    ``out_dir`` is created owner-only when missing. Returns the files written.
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; use one of {', '.join(FORMATS)}")
    if format == "parquet":
        _pyarrow()
    chosen = choose_tables(store, tables)
    out = Path(out_dir)
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{out}: cannot create the export directory: {exc.strerror}") from None
    if not out.is_dir():
        raise StoreError(f"{out}: not a directory")
    _remove_leftovers(out)

    def render(frame: pd.DataFrame, table: str, kind: Kind, deleted_at: bool) -> bytes:
        if format == "csv":
            return render_csv(frame)
        return render_parquet(frame, table, kind=kind, deleted_at=deleted_at)

    written: list[ExportedFile] = []

    def write(name: str, frame: pd.DataFrame, table: str, kind: Kind, deleted_at: bool) -> None:
        path = out / f"{name}.{format}"
        try:
            write_atomic(path, render(frame, table, kind, deleted_at))
        except OSError as exc:
            raise StoreError(f"{path}: cannot write the export: {exc.strerror}") from None
        written.append(ExportedFile(path, table if kind != "quarantine" else None, kind,
                                    len(frame)))

    for table in chosen:
        if include_deleted:
            write(table, store.frame(table, include_deleted=True), table, "table", True)
        else:
            write(table, store.frame(table), table, "table", False)
            write(f"{table}.tombstones", store.tombstones(table), table, "tombstones", True)
    quarantine = store.quarantine()
    quarantine = quarantine[quarantine["table"].isin(chosen)].reset_index(drop=True)
    write("quarantine", quarantine, "quarantine", "quarantine", False)
    return written
