"""The `relay` command line: every subcommand is there and explains itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relay.cli.main import SUBCOMMANDS, build_parser
from relay.config.load import DEFAULT_PATH, LOG_LEVELS

EXPECTED = {
    "run",
    "check",
    "demo",
    "sandbox",
    "replay",
    "queue",
    "audit",
    "login",
    "status",
    "directory",
    "digest",
    "init",
}


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


@pytest.mark.parametrize("name", ["run", "check", "queue", "status", "audit"])
def test_every_subcommand_reads_the_same_config_by_default(name: str) -> None:
    """Without -c, each subcommand that reads relay.toml reads ./relay.toml; -c names another."""
    parser = build_parser()
    assert parser.parse_args([name]).config == DEFAULT_PATH == Path("relay.toml")
    assert parser.parse_args([name, "-c", "other.toml"]).config == Path("other.toml")


def test_log_levels_are_the_configs() -> None:
    """`--log-level` offers exactly the levels relay.toml's [log] level accepts."""
    for level in LOG_LEVELS:
        assert build_parser().parse_args(["--log-level", level, "status"]).log_level == level
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--log-level", "trace", "status"])
