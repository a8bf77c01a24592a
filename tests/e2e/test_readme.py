"""The README cannot drift from the code: its commands are the ones CI runs and the CLI accepts."""

from __future__ import annotations

import re
import shlex

import pytest
from paths import ROOT

from relay.cli.main import build_parser

README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def code_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def relay_commands() -> list[str]:
    """Every `relay ...` command the README shows, in code spans and code blocks."""
    found = re.findall(r"`(relay [^`]+)`", README)
    for block in code_blocks():
        found += re.findall(r"(?:^|&& )(relay [^&\n]+)", block, flags=re.M)
    return sorted({c.strip() for c in found})


def test_readme_opens_with_the_demo_and_the_tests() -> None:
    """The first two commands install and run `relay demo`, then install and run the tests."""
    first, second = code_blocks()[:2]
    assert first.strip().endswith("pip install -e . && relay demo")
    assert second.strip().endswith("pip install -e '.[test]' && python -m pytest")
    assert README.index(first) < README.index("## What relay is for")


def test_ci_runs_what_the_readme_says() -> None:
    """CI installs the test extra, runs the README's test command and the demo as a smoke test."""
    assert "pip install --quiet -e '.[test]'" in CI
    assert "\npython -m pytest" in CI
    assert "\nrelay demo" in CI


@pytest.mark.parametrize("command", relay_commands())
def test_every_relay_command_in_the_readme_parses(command: str) -> None:
    """Each `relay ...` command line in the README is accepted by the real argument parser."""
    build_parser().parse_args(shlex.split(command)[1:])
