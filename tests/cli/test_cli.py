"""The `relay` command line: every subcommand is there and explains itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

from relay.cli.main import SUBCOMMANDS, build_parser

EXPECTED = {"run", "check", "demo", "sandbox", "replay", "queue", "audit", "login", "status"}


def relay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_every_subcommand_is_declared() -> None:
    """The parser offers exactly the documented subcommands."""
    assert {s.name for s in SUBCOMMANDS} == EXPECTED
    help_text = build_parser().format_help()
    for name in EXPECTED:
        assert name in help_text


def test_top_level_help_runs_as_a_process() -> None:
    """`relay --help` (through python -m relay) lists the subcommands and exits 0."""
    result = relay("--help")
    assert result.returncode == 0
    assert "replay" in result.stdout
    assert "sandbox" in result.stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_subcommand_help(name: str) -> None:
    """`relay CMD --help` explains each subcommand and exits 0."""
    result = relay(name, "--help")
    assert result.returncode == 0, result.stderr
    description = next(s.description for s in SUBCOMMANDS if s.name == name)
    assert description.split()[0] in result.stdout


def test_no_subcommand_is_a_usage_error() -> None:
    """Plain `relay` is a usage error (exit 2), not a crash."""
    result = relay()
    assert result.returncode == 2
    assert "COMMAND" in result.stderr
