"""Which tests are ``heavy``: left out of the default suite, run by CI after it.

The default suite (``bash scripts/test``) is the one a developer runs after every
change, and it must finish in three minutes on a quiet two-core machine. The tests
below each start real ``leadsync`` processes again and again (a kill at every crash
point, two syncs racing), drive Chromium, execute the notebooks, or search hundreds of
generated cases; together they are two thirds of the suite's time. They are marked
``heavy`` here, in one place, rather than one by one: ``-m heavy`` runs them,
``.ci/run`` runs them with the soaks after the default suite. Where a test has many
cases (kill points, services), ``keep`` leaves one or two in the default suite; the
Chromium, notebook, concurrency and random-moment kill tests run only in this tier.

A test listed here that no longer exists, or a ``keep`` naming a parameter the test no
longer has, fails the collection: a renamed test must not move silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Heavy:
    """A test (its node id without parameters) whose cases go in the heavy tier."""

    test: str
    why: str
    #: Parameter ids (what pytest shows in brackets) that stay in the default suite.
    keep: tuple[str, ...] = ()


PROCESSES = "starts leadsync processes again and again"
KILLS = "kills a real leadsync process at each of its crash points"
BROWSER = "drives headless Chromium"
NOTEBOOK = "executes a notebook in a Jupyter kernel"
SEARCH = "searches hundreds of generated cases"

HEAVY: tuple[Heavy, ...] = (
    # Crash matrices: one point per family stays in the default suite.
    Heavy("tests/test_push_crash.py::test_a_notion_push_killed_anywhere_ends_with_one_complete_page",
          KILLS),
    Heavy("tests/test_push_crash.py::test_an_airtable_push_killed_anywhere_ends_with_one_set_of_rows",
          KILLS),
    Heavy("tests/test_sync_crash.py::test_a_first_sync_killed_anywhere_resumes_exactly", KILLS,
          keep=("run-started", "batch-mid:signals#1")),
    Heavy("tests/test_sync_crash.py::test_a_later_sync_killed_anywhere_resumes_exactly", KILLS,
          keep=("reconcile-mid:signals",)),
    Heavy("tests/test_sync_crash.py::test_a_sync_killed_again_and_again_still_ends_exact", KILLS),
    Heavy("tests/test_sync_emulator.py::test_a_sync_killed_mid_way_resumes_exactly", KILLS,
          keep=("airtable-batch-mid:signals",)),
    Heavy("tests/reports/test_report_write.py::test_sigkill_while_writing_leaves_a_whole_file",
          KILLS),
    # The reliability probes' quick rounds (their soaks are marked soak).
    Heavy("tests/reliability/test_kill_soak.py::"
          "test_sync_killed_at_random_moments_loses_and_duplicates_nothing", KILLS),
    Heavy("tests/reliability/test_kill_soak.py::"
          "test_report_and_export_killed_leave_whole_files", KILLS),
    Heavy("tests/reliability/test_kill_soak.py::test_an_export_removes_what_a_killed_one_left",
          KILLS),
    Heavy("tests/reliability/test_fault_soak.py::"
          "test_every_fault_ends_0_or_75_and_the_store_equals_the_workspace", PROCESSES),
    Heavy("tests/reliability/test_payloads.py::"
          "test_generated_payloads_never_crash_and_bad_rows_are_quarantined", SEARCH),
    Heavy("tests/reliability/test_payloads.py::test_hostile_shapes_are_quarantined_too", SEARCH),
    # Every output end to end, through seven leadsync processes a service (the same
    # outputs are checked in-process by tests/reports/test_report_escaping.py,
    # test_push_notion.py, test_push_airtable.py and tests/test_export.py).
    Heavy("tests/reliability/test_injection.py::test_workspace_text_is_inert", PROCESSES),
    Heavy("tests/reliability/test_defects.py::test_leadsync_report_writes_every_file_owner_only",
          PROCESSES),
    Heavy("tests/reliability/test_defects.py::test_the_demo_report_is_owner_only", PROCESSES),
    Heavy("tests/reliability/test_defects.py::"
          "test_an_existing_store_others_can_read_is_made_owner_only", PROCESSES),
    Heavy("tests/reliability/test_secrets_canary.py::test_a_real_process_at_debug_prints_no_token",
          PROCESSES, keep=("notion",)),
    Heavy("tests/reliability/test_secrets_canary.py::test_the_token_appears_nowhere", PROCESSES,
          keep=("notion-report", "airtable-report --push --dry-run",
                "notion-5xx and resets, retried", "notion-load into DuckDB")),
    Heavy("tests/test_sync_concurrency.py::test_two_leadsync_syncs_against_the_emulator_one_writes",
          PROCESSES),
    Heavy("tests/test_sync_concurrency.py::test_one_writer_one_exit_75_and_a_reader_that_never_fails",
          PROCESSES),
    # End to end through the command line: the demo, bootstrap, push, the warehouse.
    Heavy("tests/test_demo.py::test_demo_twice_starts_from_a_fresh_store", PROCESSES),
    Heavy("tests/test_demo.py::test_demo_syncs_then_reports", PROCESSES, keep=("airtable",)),
    Heavy("tests/test_bootstrap.py::test_without_a_config_the_url_serve_prints_is_used_and_written",
          PROCESSES),
    Heavy("tests/test_architecture.py::test_the_fixtures_are_opt_in",
          "runs pytest in new processes"),
    Heavy("tests/reports/test_push_cli.py::test_report_push_to_airtable_upserts_rows_once",
          PROCESSES),
    Heavy("tests/reports/test_push_cli.py::"
          "test_an_integration_without_insert_content_fails_in_one_line_writing_nothing",
          PROCESSES),
    Heavy("tests/reports/test_push_cli.py::test_a_second_push_while_one_runs_exits_75", PROCESSES),
    Heavy("tests/reports/test_push_cli.py::"
          "test_a_token_without_data_records_write_fails_in_one_line_writing_nothing", PROCESSES),
    Heavy("tests/reports/test_push_cli.py::test_rate_limited_past_the_wait_it_accepts_exits_75",
          PROCESSES),
    Heavy("tests/reports/test_push_cli.py::test_packet_by_name_and_all_open_nominations",
          PROCESSES),
    Heavy("tests/reports/test_push_cli.py::test_packets_go_into_the_airtable_packets_table_once",
          PROCESSES),
    Heavy("tests/test_dlt.py::test_loads_follow_the_store_inserts_edits_and_deletions", PROCESSES),
    Heavy("tests/test_dlt.py::test_flagged_deletions_stay_with_deleted_at", PROCESSES),
    Heavy("tests/test_dlt.py::test_a_row_that_moves_to_the_quarantine_leaves_and_comes_back",
          PROCESSES),
    Heavy("tests/test_dlt.py::test_the_incremental_uses_the_syncs_lag", PROCESSES),
    Heavy("tests/test_sync_emulator.py::test_random_changes_upstream_are_followed_exactly",
          SEARCH),
    Heavy("tests/test_projects_end_to_end.py::test_a_workspace_without_the_table_syncs_and_reports",
          PROCESSES),
    # Second cases of families the default suite already covers once.
    Heavy("tests/test_sync.py::test_random_upstream_changes_are_followed_exactly", SEARCH,
          keep=("1",)),
    Heavy("tests/test_sync_emulator.py::"
          "test_bad_input_is_one_line_the_right_code_and_an_untouched_store", PROCESSES,
          keep=("notion",)),
    Heavy("tests/test_sync_schema_cache.py::test_a_changed_table_config_ignores_the_snapshot",
          PROCESSES, keep=("airtable-location", "airtable-mapping")),
    Heavy("tests/test_sync_schema_cache.py::"
          "test_reconciliations_read_the_schema_and_refresh_the_snapshot", PROCESSES,
          keep=("airtable",)),
    Heavy("tests/test_projects_end_to_end.py::"
          "test_bootstrap_creates_the_projects_table_then_sync_and_report_use_it", PROCESSES,
          keep=("notion",)),
    Heavy("tests/test_projects_end_to_end.py::test_the_report_shows_the_section", PROCESSES),
    Heavy("tests/test_bootstrap.py::"
          "test_bootstrap_sync_report_end_to_end_and_a_second_bootstrap_creates_nothing",
          PROCESSES, keep=("airtable",)),
    Heavy("tests/reliability/test_defects.py::test_a_lone_surrogate_is_refused_and_the_sync_goes_on",
          PROCESSES, keep=("airtable",)),
    Heavy("tests/test_dlt.py::test_leadsync_load_from_cron", PROCESSES),
    Heavy("tests/reports/test_push_cli.py::"
          "test_a_push_without_its_token_or_parent_page_is_a_usage_error", PROCESSES),
    Heavy("tests/reports/test_push_cli.py::test_an_unknown_or_ambiguous_member_lists_the_candidates",
          PROCESSES),
    Heavy("tests/reports/test_push_cli.py::test_a_dry_run_writes_no_file_and_nothing_upstream",
          PROCESSES),
    Heavy("tests/reports/test_report_cli.py::test_json_names_every_file", PROCESSES),
    Heavy("tests/reports/test_report_model.py::test_a_stale_store_is_warned_about_in_the_report",
          PROCESSES),
    Heavy("tests/reports/test_report_projects.py::"
          "test_an_empty_projects_table_shows_everyone_waiting", PROCESSES),
    Heavy("tests/reports/test_push_notion.py::test_a_block_a_person_added_survives_a_changed_push",
          PROCESSES),
    Heavy("tests/reports/test_push_airtable.py::"
          "test_a_changed_month_updates_the_same_rows_and_leaves_none_of_the_old", PROCESSES),
    Heavy("tests/reports/test_push_airtable.py::"
          "test_rows_of_members_who_left_are_deleted_and_a_persons_row_survives", PROCESSES),
    Heavy("tests/test_dlt.py::test_a_full_load_sends_everything_again_without_duplicates",
          PROCESSES),
    Heavy("tests/reliability/test_secrets_canary.py::test_outputs_hold_no_token", PROCESSES,
          keep=("notion-monthly report (leadsync.reports)",)),
    Heavy("tests/reports/test_report_projects.py::"
          "test_a_workspace_without_the_table_says_which_table_would_fill_it", PROCESSES),
    Heavy("tests/test_sync_emulator.py::test_an_incremental_night_reads_only_the_changes",
          PROCESSES, keep=("airtable",)),
    Heavy("tests/test_sync_schema_cache.py::"
          "test_a_night_with_a_snapshot_reads_no_schema_only_one_query_per_table", PROCESSES,
          keep=("airtable",)),
    Heavy("tests/test_forgiving_mapping.py::"
          "test_delete_and_re_create_syncs_with_exit_0_and_one_warning", PROCESSES,
          keep=("notion-incremental", "airtable-incremental")),
    # Chromium and the notebooks.
    Heavy("tests/reports/test_report_browser.py::test_a_hostile_name_is_text_in_the_dom", BROWSER),
    Heavy("tests/reports/test_report_browser.py::test_the_page_renders_with_every_image_and_no_request",
          BROWSER),
    Heavy("tests/reports/test_report_browser.py::test_print_shows_every_row", BROWSER),
    Heavy("tests/reports/test_report_browser.py::test_a_phone_scrolls_tables_not_the_page",
          BROWSER),
    Heavy("tests/test_notebooks.py::test_promotion_readiness", NOTEBOOK),
    Heavy("tests/test_notebooks.py::test_signals_and_quarantine", NOTEBOOK),
    Heavy("tests/test_notebooks.py::test_timezones_and_meetings", NOTEBOOK),
    # Exhaustive and property searches.
    Heavy("tests/test_benchmarks_smoke.py::test_the_tiny_run_produces_every_figure",
          "runs every benchmark at its tiny size, each in its own process"),
    # The column-wise decoders and the store's columns against their oracles on
    # generated data (the real payloads' comparisons stay in the default suite).
    Heavy("tests/decoding/test_oracle.py::test_generated_notion_pages", SEARCH),
    Heavy("tests/decoding/test_oracle.py::test_generated_airtable_records", SEARCH),
    Heavy("tests/decoding/test_oracle.py::test_records_build_as_today", SEARCH),
    Heavy("tests/decoding/test_oracle.py::test_pages_split_into_frames_as_iter_pages_cuts_them",
          SEARCH),
    Heavy("tests/store_frames/test_equivalence.py::test_every_kind_of_cell_reads_like_the_oracle",
          SEARCH),
    Heavy("tests/store_frames/test_equivalence.py::test_synced_stores_read_like_the_oracle",
          SEARCH, keep=("1",)),
    Heavy("tests/analytics/test_rotation_optimal.py::test_rotation_matches_brute_force", SEARCH),
    Heavy("tests/analytics/test_properties.py::test_every_row_is_in_the_result_or_the_quarantine",
          SEARCH),
    Heavy("tests/analytics/test_properties.py::test_published_rows_never_cover_a_small_group",
          SEARCH),
    Heavy("tests/analytics/test_properties.py::test_scores_are_finite_and_bounded", SEARCH),
    Heavy("tests/analytics/test_rotation_optimal.py::"
          "test_a_work_limit_keeps_the_best_plan_and_says_how_close_it_is", SEARCH),
    Heavy("tests/analytics/test_rotation_optimal.py::"
          "test_a_quarter_where_the_week_by_week_rule_overloads_two_people", SEARCH),
)


def _split(nodeid: str) -> tuple[str, str]:
    base, _, rest = nodeid.partition("[")
    return base, rest[:-1] if rest else ""


def mark_heavy(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the listed tests ``heavy``; fail on an entry that matches nothing collected
    (checked when whole files were collected, not single tests)."""
    by_test = {h.test: h for h in HEAVY}
    seen_params: dict[str, set[str]] = {}
    files = set()
    for item in items:
        base, param = _split(item.nodeid)
        files.add(base.split("::")[0])
        heavy = by_test.get(base)
        if heavy is None:
            continue
        seen_params.setdefault(base, set()).add(param)
        if param not in heavy.keep:
            item.add_marker(pytest.mark.heavy)
    stale: list[str] = []
    if any("::" in str(arg) for arg in config.args):
        return
    for heavy in HEAVY:
        if heavy.test.split("::")[0] not in files:
            continue  # that file was not collected in this run
        if heavy.test not in seen_params:
            stale.append(f"{heavy.test}: no such test")
        else:
            stale += [f"{heavy.test}[{k}]: no such case"
                      for k in heavy.keep if k not in seen_params[heavy.test]]
    if stale:
        raise pytest.UsageError("tests/tiers.py names tests that do not exist:\n  "
                                + "\n  ".join(stale))
