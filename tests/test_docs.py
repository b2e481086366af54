"""The README stays true to the code: commands, analytics, the two commands, CI."""

from __future__ import annotations

import re
from pathlib import Path

import click

import leadsync.analytics
from leadsync.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "leadsync") -> list[str]:
    found: list[str] = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append(path)
    return found


def test_every_command_is_documented() -> None:
    commands = _commands(main)
    assert len(commands) >= 5
    for command in commands:
        assert f"`{command}" in README, f"README does not document {command}"


def _sections_naming(command: str) -> str:
    """The README's sections (split at ##, ###, ####) that name ``command``."""
    sections = re.split(r"\n(?=#{2,4} )", README)
    return "\n".join(s for s in sections if re.search(re.escape(command) + r"(?![\w-])", s))


def test_every_option_in_help_is_documented_with_its_command() -> None:
    """Each option `--help` lists is in a README section that names its command."""
    checked = 0
    for path in _commands(main):
        command: click.Command = main
        for name in path.split()[1:]:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        help_text = command.get_help(click.Context(command, info_name=path))
        text = _sections_naming(path)
        assert text, f"no README section names {path}"
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            for option in (o for o in [*param.opts, *param.secondary_opts] if o.startswith("--")):
                assert option in help_text  # what --help shows is what is checked
                assert option in text, (
                    f"{path} {option} is in --help but not in the README where {path} is")
                checked += 1
    assert checked >= 20


def test_every_command_has_help() -> None:
    for name, command in main.commands.items():
        assert command.help, f"leadsync {name} has no help text"


def test_every_analytics_function_is_in_the_readme() -> None:
    functions = [n for n in leadsync.analytics.__all__
                 if callable(getattr(leadsync.analytics, n))
                 and not isinstance(getattr(leadsync.analytics, n), type)]
    for name in functions:
        assert f"`{name}`" in README, f"README does not mention analytics.{name}"
    for name in re.findall(r"\| `(\w+)`", README):
        if name.startswith(("score_", "compute_", "assess_", "find_", "rank_", "plan_")):
            assert name in functions, f"README names analytics.{name}, which does not exist"


def test_the_two_commands_and_ci_agree() -> None:
    assert "bash scripts/demo" in README
    assert "bash scripts/test" in README
    assert "exec bash scripts/test" in (ROOT / ".ci" / "run").read_text()
    assert "leadsync demo" in (ROOT / "scripts" / "demo").read_text()
    assert "pytest" in (ROOT / "scripts" / "test").read_text()


def test_benchmarks_named_in_the_readme_exist() -> None:
    for name in re.findall(r"`benchmarks/(\w+\.py)`", README):
        assert (ROOT / "benchmarks" / name).is_file(), name
