"""The error tree: one root, builtin mixins, the transient marker, exit codes."""

from __future__ import annotations

import logging

import pytest

import leadsync
from leadsync import errors
from leadsync.secrets import ScrubFilter, Secret, scrub


def test_every_error_derives_from_the_root() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, errors.LeadsyncError), name


def test_builtin_mixins() -> None:
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.NotFoundError, LookupError)
    assert issubclass(errors.AuthError, PermissionError)
    assert issubclass(errors.SchemaError, KeyError)


def test_exit_codes_follow_the_architecture() -> None:
    assert errors.exit_code_for(errors.ConfigError("x")) == 2
    assert errors.exit_code_for(errors.UpstreamError("x", service="notion")) == 75
    assert errors.exit_code_for(errors.RateLimitedError("x", service="airtable")) == 75
    assert errors.exit_code_for(errors.StoreLockedError("x")) == 75
    assert errors.exit_code_for(errors.AuthError("x", service="notion")) == 1
    assert errors.exit_code_for(errors.QuotaExceededError("x", service="airtable")) == 1
    assert errors.exit_code_for(RuntimeError("x")) == 1


def test_connector_error_message_carries_status_code_and_request_id() -> None:
    exc = errors.NotFoundError(
        "database 1f2e is not shared with the integration",
        service="notion", status=404, code="object_not_found", request_id="req-1",
    )
    assert str(exc) == (
        "notion: database 1f2e is not shared with the integration "
        "(HTTP 404, object_not_found, request id req-1)"
    )


def test_the_tree_is_drawn_in_the_module_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, errors.LeadsyncError):
            assert name in doc, name


def test_public_api_is_explicit_and_importable() -> None:
    for name in leadsync.__all__:
        assert hasattr(leadsync, name), name
    assert len(set(leadsync.__all__)) == len(leadsync.__all__)


def test_secret_is_scrubbed_from_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret("patSECRETVALUE.0123456789", "AIRTABLE_TOKEN")
    assert "patSECRET" not in repr(secret)
    assert scrub(f"Authorization: Bearer {secret.reveal()}") == "Authorization: Bearer ****"
    logger = logging.getLogger("leadsync.test")
    logger.addFilter(ScrubFilter())
    with caplog.at_level(logging.INFO, logger="leadsync.test"):
        logger.info("calling with %s", secret.reveal())
    assert "patSECRET" not in caplog.text
    assert "****" in caplog.text


def test_importing_leadsync_loads_no_http_client() -> None:
    import subprocess
    import sys

    code = ("import sys, leadsync; "
            "print(sorted(m for m in ('httpx', 'requests', 'notion_client', 'pyairtable') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_notebook_entry_points_are_the_connectors_functions() -> None:
    from leadsync.connectors import airtable, notion

    assert leadsync.read_notion is notion.read_notion
    assert leadsync.read_airtable is airtable.read_airtable
