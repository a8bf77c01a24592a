"""`relay directory`: the members listed, the follow-import CSV printed, the page and CSV written,
from the state file read-only (as while the relay runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relay.store.records import MemberAccount
from relay.store.store import Store


def relay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A relay.toml whose state file has two members, one of whom left."""
    path = tmp_path / "relay.toml"
    path.write_text(
        'hashtags = ["TherapistsConnect"]\nstate = "state.db"\n[home]\nurl = "https://home.example"\n',
        encoding="utf-8",
    )
    with Store.open(tmp_path / "state.db") as store:
        for user in ("ann", "bob"):
            acct = f"{user}@one.example"
            store.members.join(
                MemberAccount(acct, f"https://one.example/users/{user}", None, user.title(), "<p>Hi</p>"),
                actor=acct,
            )
        store.members.leave("bob@one.example", "leave", actor="bob@one.example")
    return path


def test_csv(config: Path) -> None:
    """`--csv` prints Mastodon's following-list import: the header, then the members listed now."""
    result = relay("directory", "-c", str(config), "--csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Account address,Show boosts,Notify on new posts,Languages",
        "ann@one.example,true,false,",
    ]


def test_html(config: Path, tmp_path: Path) -> None:
    """`--html DIR` writes index.html and directory.csv there."""
    site = tmp_path / "site"
    result = relay("directory", "-c", str(config), "--html", str(site))
    assert result.returncode == 0, result.stderr
    assert "(1 members)" in result.stdout
    assert "@ann@one.example" in (site / "index.html").read_text(encoding="utf-8")
    assert "bob@one.example" not in (site / "directory.csv").read_text(encoding="utf-8")


def test_list(config: Path) -> None:
    """Without options: a table of who is listed, with the join date and introduction."""
    result = relay("directory", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "ann@one.example" in result.stdout
    assert "(bio)" in result.stdout
    assert "1 member." in result.stdout


def test_no_state_file(tmp_path: Path) -> None:
    """Before the relay ever ran: exit 2 with the fix."""
    path = tmp_path / "relay.toml"
    path.write_text('hashtags = ["T"]\n[home]\nurl = "https://home.example"\n', encoding="utf-8")
    result = relay("directory", "-c", str(path), "--csv")
    assert result.returncode == 2
    assert "state" in result.stderr
