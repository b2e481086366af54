"""The ``leadsync`` command: thin over the library.

Every command calls one library function and turns leadsync's errors into
one line on stderr and an exit code (ARCHITECTURE.md): 0 done, 1 failed,
2 bad config or usage, 75 a transient upstream failure cron may retry.
``--verbose`` adds the traceback and debug logs.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import json
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from leadsync import __version__
from leadsync.config import DEFAULT_PATH, Config, load_config
from leadsync.errors import EXIT_FAILED, ConfigError, LeadsyncError, exit_code_for
from leadsync.logs import configure_logging
from leadsync.secrets import scrub
from leadsync.tables import TABLES

log = logging.getLogger("leadsync.cli")

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> None:
    click.echo(f"leadsync: error: {scrub(message)}", err=True)
    sys.exit(code)


def print_traceback() -> None:
    """The current exception's traceback on stderr (``--verbose``), secrets scrubbed."""
    click.echo(scrub(traceback.format_exc()), err=True, nl=False)


def handled(func: F) -> F:
    """Run a command, turning leadsync errors into one line and the right exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        verbose = bool(ctx.find_root().params.get("verbose"))
        try:
            return func(*args, **kwargs)
        except LeadsyncError as exc:
            if verbose:
                print_traceback()
            fail(str(exc), exit_code_for(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except (click.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except Exception as exc:  # a bug: say so plainly, keep the details for --verbose
            if verbose:
                print_traceback()
            fail(f"internal error: {type(exc).__name__}: {exc} (run with --verbose for the "
                 "traceback)", EXIT_FAILED)
        return None

    return cast(F, wrapper)


def config_from(ctx: click.Context, *, locations_as_written: bool = False) -> Config:
    path = ctx.find_root().params.get("config")
    return load_config(path, locations_as_written=locations_as_written)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "-c", type=click.Path(path_type=Path),  # checked when loaded
              default=None, help=f"Config file (default: ./{DEFAULT_PATH}).")
@click.option("--verbose", "-v", is_flag=True, help="Debug logs and tracebacks.")
@click.version_option(__version__, prog_name="leadsync")
def main(config: Path | None, verbose: bool) -> None:
    """Leadership signals from Notion or Airtable: sync, score, report.

    Tokens come from the environment (NOTION_TOKEN, AIRTABLE_TOKEN), never
    from the config file. Exit codes: 0 done, 1 failed, 2 bad config or
    usage, 75 temporary upstream failure (cron may retry).
    """
    configure_logging(verbose)


# ---------------------------------------------------------------------------
# init and check


@main.command()
@click.option("--kind", type=click.Choice(["notion", "airtable"]), default="notion",
              show_default=True, help="Where your tracking tables live.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_context
@handled
def init(ctx: click.Context, kind: str, force: bool) -> None:
    """Write a commented leadsync.toml to fill in."""
    from leadsync.setup import Kind, config_template

    path = ctx.find_root().params.get("config") or DEFAULT_PATH
    if Path(path).is_dir():
        raise ConfigError("is a folder; pass the path of the file to write", path=str(path))
    if Path(path).exists() and not force:
        raise ConfigError("already exists; pass --force to overwrite it", path=str(path))
    try:
        Path(path).write_text(config_template(cast(Kind, kind)), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", path=str(path)) from None
    click.echo(f"wrote {path}: fill in the ids of your {kind} tables, then run `leadsync check`")


@main.command()
@click.option("--offline", is_flag=True,
              help="Check the config alone (placeholders, ids, required columns, the token "
                   "variable); send no request.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON on stdout.")
@click.pass_context
@handled
def check(ctx: click.Context, offline: bool, as_json: bool) -> None:
    """Check leadsync.toml against the workspace (read-only).

    The token is accepted (and whose it is), every table is reachable, every
    mapped property exists with a type its column can be read from (close
    names are suggested), every required column is mapped, no placeholder
    from `leadsync init` is left. One line per problem with its fix, then a
    summary. Exit codes: 0 all good, 1 the workspace disagrees with the
    config, 2 the config itself is invalid, 75 the API is unreachable.
    """
    from leadsync.check import run_check
    from leadsync.setup import describe_config

    config = config_from(ctx, locations_as_written=True)
    # ctx.obj["workspace"]: a Workspace for tests and embedding (leadsync.workspace)
    workspace = ctx.obj.get("workspace") if isinstance(ctx.obj, dict) else None
    result = run_check(config, offline=offline, workspace=workspace)
    if as_json:
        click.echo(result.to_json())
    else:
        if offline:
            click.echo(describe_config(config))
        click.echo(result.describe())
    ctx.exit(result.exit_code)


@main.command()
@click.option("--notion", "notion_page", metavar="PAGE",
              help="Create the tables as Notion databases under this page (URL or id; share "
                   "it with the integration first).")
@click.option("--airtable", "airtable_base", metavar="BASE",
              help="Create the tables in this Airtable base (app… id or URL).")
@click.option("--sample", is_flag=True,
              help="Fill the tables that are empty with a small sample organisation (12 "
                   "people, three months of signals), through the same API.")
@click.option("--force", is_flag=True,
              help="Replace the table mapping of a leadsync.toml that bootstrap did not write.")
@click.pass_context
@handled
def bootstrap(ctx: click.Context, notion_page: str | None, airtable_base: str | None,
              sample: bool, force: bool) -> None:
    """Create the tracking tables in an empty workspace, and the leadsync.toml that reads them.

    Signals (the seed's five fields and vocabularies), members (time zone,
    working hours), milestones, check-ins (the mentor template), rotations and
    reviews (the decision matrix), related to members; plus the report target
    (a "Leadership Reports" page in Notion; the base in Airtable). Tables that
    exist (same title/name) are reused, so running it again creates nothing
    twice. The token comes from NOTION_TOKEN or AIRTABLE_TOKEN; the service's
    URL from the config (`leadsync emulator serve --empty --write-config`
    writes one), else NOTION_BASE_URL or AIRTABLE_ENDPOINT_URL, else the real
    service.
    """
    from leadsync.bootstrap import Kind, run_bootstrap

    if (notion_page is None) == (airtable_base is None):
        raise click.UsageError("give one of --notion PAGE or --airtable BASE")
    kind: Kind = "notion" if notion_page is not None else "airtable"
    path = ctx.find_root().params.get("config") or DEFAULT_PATH
    rows = None
    if sample:
        from leadsync.emulator.sample import SampleOrg  # sample data, as the demo's

        now = ctx.obj.get("now") if isinstance(ctx.obj, dict) else None
        today = (now or dt.datetime.now(dt.UTC)).date()
        rows = SampleOrg.generate(seed=0, members=12, months=3, as_of=today).tables
    run = run_bootstrap(kind, notion_page or airtable_base or "", config_path=path,
                        sample=rows, force=force, echo=click.echo)
    click.echo(run.describe())


# ---------------------------------------------------------------------------
# sync


@main.command()
@click.option("--full", is_flag=True,
              help="Re-read every row (ignoring the cursor) and reconcile deletions now.")
@click.option("--dry-run", is_flag=True,
              help="Pull and compare, write nothing; show what would change.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the run summary as JSON on stdout.")
@click.option("--table", "tables", multiple=True, metavar="NAME",
              help="Sync only this table (repeatable; default: every configured table).")
@click.pass_context
@handled
def sync(ctx: click.Context, full: bool, dry_run: bool, as_json: bool,
         tables: tuple[str, ...]) -> None:
    """Pull every configured table into the local store (made for cron).

    Incremental from the last run's cursor; rows deleted upstream become
    tombstones at each reconciliation (every [sync] full_every_days, on the
    first run, or with --full). Safe to kill at any point: the next run
    resumes. A second run while one is running exits 75 at once.
    """
    from leadsync.sync import run_sync

    config = config_from(ctx)
    # ctx.obj["sources"]: a source factory for tests and embedding (leadsync.testing)
    sources = ctx.obj.get("sources") if isinstance(ctx.obj, dict) else None
    try:
        summary = run_sync(config, full=full, dry_run=dry_run, tables=tables or None,
                           sources=sources)
    except LeadsyncError as exc:
        if as_json:
            click.echo(json.dumps({"status": "failed", "error": scrub(str(exc)),
                                   "exit_code": exit_code_for(exc)}, indent=2))
        raise
    click.echo(summary.to_json() if as_json else summary.describe())


# ---------------------------------------------------------------------------
# report


@main.command()
@click.option("--month", metavar="YYYY-MM", default=None,
              help="The month to report on, as of its end in UTC (default: the last "
                   "complete month).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Directory for the files, created if missing "
                                 "(default: ./leadsync-reports/YYYY-MM).")
@click.option("--format", "formats", default="html,md", show_default=True, metavar="LIST",
              help="Comma-separated: html (one self-contained file), md (Markdown with "
                   "the chart images beside it).")
@click.option("--json", "as_json", is_flag=True,
              help="Print what was written as JSON on stdout.")
@click.option("--push", is_flag=True,
              help="Also push it into the workspace: a Notion page under [report] "
                   "notion_parent_page, or the Reports and Scores rows in Airtable.")
@click.option("--dry-run", is_flag=True,
              help="With --push: say what the push would create, update and delete; write "
                   "nothing (no files either).")
@click.option("--force", is_flag=True,
              help="With --push: rewrite the page or rows even if nothing changed (brings "
                   "back blocks or rows deleted by hand).")
@click.pass_context
@handled
def report(ctx: click.Context, month: str | None, out_dir: Path | None, formats: str,
           as_json: bool, push: bool, dry_run: bool, force: bool) -> None:
    """Write the monthly leadership-sync report from the local store.

    Reads the store the nightly sync keeps (run `leadsync sync` first) and
    writes report.html (charts embedded, no network needed to open it),
    report.md and its chart images, owner-only (0600). A store last synced
    more than 3 days ago is reported on with a warning. With --push the month
    goes into the workspace too, updated in place when pushed again. Exit
    codes: 0 written, 1 nothing to report on or the workspace refused, 2 bad
    month, format or config, 75 the workspace is unreachable or another push
    runs (cron may retry).
    """
    from leadsync.reports.job import run_report

    config = config_from(ctx)
    # ctx.obj["now"]: a fixed clock for tests and embedding
    now = ctx.obj.get("now") if isinstance(ctx.obj, dict) else None
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    try:
        run = run_report(config, month=month, out_dir=out_dir, formats=chosen,
                         now=now or dt.datetime.now(dt.UTC), push=push, dry_run=dry_run,
                         force=force)
    except LeadsyncError as exc:
        if as_json:
            click.echo(json.dumps({"status": "failed", "error": scrub(str(exc)),
                                   "exit_code": exit_code_for(exc)}, indent=2))
        raise
    for warning in run.warnings:
        click.echo(f"leadsync: warning: {warning}", err=True)
    click.echo(run.to_json() if as_json else run.describe())


@main.command()
@click.argument("members", nargs=-1, metavar="[MEMBER]...")
@click.option("--all", "all_open", is_flag=True,
              help="A packet for every open nomination (reviews still Pending).")
@click.option("--month", metavar="YYYY-MM", default=None,
              help="As of the end of this month, UTC (default: the last complete month).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Directory for the files, created if missing "
                                 "(default: ./leadsync-reports/YYYY-MM/packets).")
@click.option("--format", "formats", default="html,md", show_default=True, metavar="LIST",
              help="Comma-separated: html, md.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@click.option("--push", is_flag=True,
              help="Also push each packet: a Notion page under [report] notion_parent_page, "
                   "or a row of the Packets table in Airtable.")
@click.option("--dry-run", is_flag=True,
              help="With --push: say what would be created or updated; write nothing.")
@click.option("--force", is_flag=True, help="With --push: rewrite even if nothing changed.")
@click.pass_context
@handled
def packet(ctx: click.Context, members: tuple[str, ...], all_open: bool, month: str | None,
           out_dir: Path | None, formats: str, as_json: bool, push: bool, dry_run: bool,
           force: bool) -> None:
    """Write the promotion packet of MEMBER (a name or a member id), or of every open
    nomination with --all, following the seed's promotion packet template.

    Nominee information, leadership evidence with links (technical, people,
    operational, communication), async communication examples, impact
    metrics, the decision matrix with its weights and the weighted total, the
    consensus of senior approvers, mentor observations and the 360 summary;
    what the workspace does not record says so. A name that matches no member
    or several lists the candidates (exit 2).
    """
    from leadsync.reports.packet_job import run_packets

    config = config_from(ctx)
    now = ctx.obj.get("now") if isinstance(ctx.obj, dict) else None
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    try:
        run = run_packets(config, members=members, all_open=all_open, month=month,
                          out_dir=out_dir, formats=chosen, now=now or dt.datetime.now(dt.UTC),
                          push=push, dry_run=dry_run, force=force)
    except LeadsyncError as exc:
        if as_json:
            click.echo(json.dumps({"status": "failed", "error": scrub(str(exc)),
                                   "exit_code": exit_code_for(exc)}, indent=2))
        raise
    for warning in run.warnings:
        click.echo(f"leadsync: warning: {warning}", err=True)
    click.echo(run.to_json() if as_json else run.describe())


# ---------------------------------------------------------------------------
# export and load (beyond one machine)


def _store_of(ctx: click.Context) -> Path:
    from leadsync.store import store_path

    return store_path(config_from(ctx))


@main.command()
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet",
              show_default=True, help="Parquet (typed, through pyarrow) or CSV.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Directory to write the files into (made 0700 if missing).")
@click.option("--table", "tables", multiple=True, type=click.Choice(list(TABLES)),
              help="Export only this table (repeatable; default: every synced table).")
@click.option("--include-deleted", is_flag=True,
              help="Keep rows deleted upstream in each table's file, with deleted_at set "
                   "(instead of a separate <table>.tombstones file).")
@click.pass_context
@handled
def export(ctx: click.Context, fmt: str, out_dir: Path, tables: tuple[str, ...],
           include_deleted: bool) -> None:
    """Write the store's tables, tombstones and quarantine as Parquet or CSV files.

    Parquet keeps the types (tz-aware UTC dates, ordered categoricals, nullable
    flags); CSV cells that would start a spreadsheet formula are made inert.
    Each file is written atomically and owner-only (0600).
    """
    from leadsync.export import Format, export_store
    from leadsync.store import open_store

    with open_store(_store_of(ctx)) as store:
        files = export_store(store, out_dir, format=cast(Format, fmt), tables=tables or None,
                             include_deleted=include_deleted)
    rows = sum(f.rows for f in files)
    click.echo(f"exported {len(files)} files ({rows} rows) to {out_dir}: "
               + ", ".join(f"{f.path.name} {f.rows}" for f in files))


@main.command()
@click.option("--destination", required=True, metavar="NAME",
              help="A dlt destination: duckdb, postgres, bigquery, snowflake, …")
@click.option("--dataset", default="leadership", show_default=True,
              help="Dataset (schema) to load into.")
@click.option("--table", "tables", multiple=True, type=click.Choice(list(TABLES)),
              help="Load only this table (repeatable; default: every synced table).")
@click.option("--deletions", type=click.Choice(["delete", "flag"]), default="delete",
              show_default=True,
              help="Rows deleted upstream: delete them in the destination, or keep them "
                   "with deleted_at set.")
@click.option("--full", is_flag=True, help="Send every row again (a merge: no duplicates).")
@click.option("--json", "as_json", is_flag=True, help="Print the load summary as JSON.")
@click.pass_context
@handled
def load(ctx: click.Context, destination: str, dataset: str, tables: tuple[str, ...],
         deletions: str, full: bool, as_json: bool) -> None:
    """Load the store into a warehouse through a dlt pipeline (run after `leadsync sync`).

    Needs the extra: pip install 'leadsync[dlt]'. Credentials the dlt way
    (.dlt/secrets.toml or DESTINATION__<NAME>__CREDENTIALS), never in
    leadsync.toml; duckdb without any writes ./leadsync.duckdb. Only what
    changed since the last load is sent; deletions follow.
    """
    try:
        from leadsync.dlt import Deletions, load_store
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("dlt", "pyarrow", "duckdb"):
            raise ConfigError("leadsync load needs dlt: pip install 'leadsync[dlt]'") from None
        raise
    summary = load_store(_store_of(ctx), destination, dataset=dataset, tables=tables or None,
                         deletions=cast(Deletions, deletions), full=full)
    click.echo(json.dumps(summary.to_dict(), indent=2) if as_json else summary.describe())


# ---------------------------------------------------------------------------
# emulator


@main.command()
@click.option("--kind", type=click.Choice(["notion", "airtable"]), default="notion",
              show_default=True, help="Which emulated workspace to sync from.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("leadsync-demo"), show_default=True,
              help="Where the config, the store and the report files are written.")
@click.option("--members", type=int, default=60, show_default=True,
              help="Size of the sample organisation.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fast", is_flag=True, help="Switch the emulator's rate limits off.")
@handled
def demo(kind: str, out_dir: Path, members: int, seed: int, fast: bool) -> None:
    """Run the whole job against the built-in emulator (no account needed).

    Starts the emulator with a sample organisation, syncs it into a local
    store at the real rate limits, lets a day of edits happen upstream, runs
    the nightly incremental sync, prints the leadership-sync report, and
    pushes it into the emulated workspace (a Notion page, or the Airtable
    Reports and Scores rows), saying where it went.
    """
    from leadsync.demo import Kind, run_demo

    run_demo(kind=cast(Kind, kind), out_dir=out_dir, members=members, seed=seed, fast=fast,
             echo=click.echo)


@main.group()
def emulator() -> None:
    """The local Notion/Airtable emulator (no account needed)."""


@emulator.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Fixes every id, value and fault draw.")
@click.option("--members", type=int, default=60, show_default=True,
              help="Size of the sample organisation.")
@click.option("--signals", type=int, default=None,
              help="Signals to generate (default: about 2.8 a member a month).")
@click.option("--empty", is_flag=True,
              help="Start with empty workspaces (no sample): a Notion root page and an empty "
                   "Airtable base, for `leadsync bootstrap` or your own tests.")
@click.option("--no-rate-limits", is_flag=True, help="Switch the 3/s and 5/s limits off.")
@click.option("--write-config", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write a leadsync.toml pointing at this emulator (with "
                                 "--empty: the [workspace] part, which bootstrap completes).")
@click.option("--kind", type=click.Choice(["notion", "airtable"]), default="notion",
              show_default=True, help="Workspace the written config uses.")
@handled
def emulator_serve(port: int, seed: int, members: int, signals: int | None, empty: bool,
                   no_rate_limits: bool, write_config: Path | None, kind: str) -> None:
    """Serve the emulated Notion (/v1) and Airtable (/v0) APIs on 127.0.0.1:PORT.

    Prints the tokens and base URL to export (NOTION_TOKEN, NOTION_BASE_URL,
    AIRTABLE_TOKEN, AIRTABLE_ENDPOINT_URL) and where the workspaces are. A port
    already in use is one line and exit 1.
    """
    from leadsync.emulator import Emulator, Limits, SampleOrg

    limits = Limits.unlimited() if no_rate_limits else Limits()
    sample = False if empty else SampleOrg.generate(seed=seed, members=members, signals=signals)
    emu = Emulator(seed=seed, limits=limits, sample=sample, port=port)
    try:
        emu.start()
    except OSError as exc:
        reason = ("is in use" if exc.errno == errno.EADDRINUSE
                  else f"cannot be used ({exc.strerror})")
        raise LeadsyncError(f"port {port} on 127.0.0.1 {reason}; pass --port with another "
                            "one (--port 0 picks a free port)") from None
    url = emu.url
    click.echo(f"emulator on {url}  (Notion: base_url={url}; Airtable: endpoint_url={url})")
    click.echo(f"export NOTION_TOKEN={emu.notion_token} NOTION_BASE_URL={url}")
    click.echo(f"export AIRTABLE_TOKEN={emu.airtable_token} AIRTABLE_ENDPOINT_URL={url}")
    if empty:
        base = emu.empty_base()
        click.echo(f"empty workspaces: Notion root page {emu.notion.root_page_id} "
                   f"(\"Leadership\"), Airtable base {base} (\"Leadership\")")
        click.echo(f"create the tracking tables: leadsync bootstrap --notion "
                   f"{emu.notion.root_page_id}   (or --airtable {base})")
    else:
        click.echo(f"sample organisation ({members} members): Notion databases under the root "
                   f"page {emu.notion.root_page_id}, Airtable base "
                   f"{emu.airtable.sample_base_id} (\"Leadership\")")
    if write_config is not None:
        write_config.write_text(emu.config_toml(kind), encoding="utf-8")
        click.echo(f"wrote {write_config} for the {kind} workspace"
                   + (" (run `leadsync bootstrap` to complete it)" if empty else ""))
    click.echo("Ctrl-C stops it.")
    emu.serve_forever()


if __name__ == "__main__":  # pragma: no cover
    main()
