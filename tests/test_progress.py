"""Progress bars in Jupyter: a widget with ipywidgets, text without it, never a warning."""

from __future__ import annotations

import importlib.util
import io
import sys
import types
import warnings
from typing import Any

import pytest
from tqdm.std import tqdm as text_bar

from leadsync.progress import Progress, bar_class


def in_a_kernel(monkeypatch: pytest.MonkeyPatch, widgets: bool) -> None:
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "ipywidgets":
            return object() if widgets else None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_without_ipywidgets_a_notebook_gets_a_text_bar_and_no_warning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    in_a_kernel(monkeypatch, widgets=False)
    assert bar_class() is text_bar
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm.auto would warn here ("IProgress not found")
        with Progress("pull signals") as bar:  # show=None: a kernel draws a bar
            bar.update(3)
    assert "IProgress" not in stream.getvalue()
    assert "pull signals" in stream.getvalue()


def test_with_ipywidgets_a_notebook_gets_tqdms_notebook_bar(
        monkeypatch: pytest.MonkeyPatch) -> None:
    in_a_kernel(monkeypatch, widgets=True)
    from tqdm.auto import tqdm as auto_bar

    assert bar_class() is auto_bar


def test_a_terminal_gets_the_text_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert bar_class() is text_bar
