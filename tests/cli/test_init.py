"""`relay init`: the real process sets up a relay against the sandbox (login, a commented relay.toml
that `relay check` passes, the systemd commands), and a second relay beside the first shares no file."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path, PurePath

import pytest
from oauthhelp import code_from_page
from paths import ROOT
from relayproc import relay_env, run_relay

from relay.cli import init
from relay.cli.initconfig import Answers, derive, paths
from relay.config.credentials import write_token_file
from relay.config.load import load_config
from relay.sandbox import Fediverse, Instance, SeededAccount

PAGE = re.compile(r"^(http://\S+/oauth/authorize\S*)$", re.MULTILINE)


@pytest.fixture
def home() -> Iterator[Instance]:
    with Fediverse(["home"], heartbeat=0.5) as fed:
        yield fed["home"]


@pytest.fixture
def bot(home: Instance) -> SeededAccount:
    return home.create_account("deafbot", bot=True, display_name="DeafTherapistsConnect relay")


def init_flags(home: Instance, folder: Path, name: str, *extra: str) -> list[str]:
    carol = home.create_account(f"carol{name}") if home.state.local_account(f"carol{name}") is None else None
    moderator = f"carol{name}@{home.domain}"
    assert carol is None or carol.acct == moderator
    return [
        "init", "--yes", "--instance", home.url, "--hashtag", "#DeafTherapistsConnect",
        "--moderator", moderator, "--mode", "optin", "--name", name, "--dir", str(folder), *extra,
    ]  # fmt: skip


class TestNonInteractive:
    def test_init_logs_in_writes_a_config_that_relay_check_passes(
        self, tmp_path: Path, home: Instance, bot: SeededAccount
    ) -> None:
        """The first run prints the page to authorise and exits 2 (no code yet, nothing written);
        the same command with the page's --code logs in, writes NAME.toml and a 0600 token, runs
        relay check (all pass) and prints the two systemd commands; `relay check` agrees."""
        folder = tmp_path / "etc"
        flags = init_flags(home, folder, "deaf")
        first = run_relay(*flags)
        assert first.returncode == 2, first.stdout + first.stderr
        assert "--code=CODE" in first.stderr
        assert not (folder / "deaf.toml").exists()
        page = PAGE.search(first.stdout)
        assert page is not None, first.stdout
        home.log_in(bot)
        done = run_relay(*flags, f"--code={code_from_page(page.group(1))}")
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert f"Logged in as @deafbot@{home.domain}" in out
        assert "✗" not in out
        assert "  systemctl enable --now relay@deaf\n" in out
        assert "/etc/systemd/system/ && systemctl daemon-reload" in out
        config = load_config(folder / "deaf.toml")
        assert config.hashtags == ("DeafTherapistsConnect",)
        assert config.home.url == home.url
        assert config.home.token_file == folder / "deaf.home.token"
        assert config.state == folder / "deaf.sqlite3"
        assert config.moderation.moderators == (f"caroldeaf@{home.domain}",)
        assert config.rules.consent.mode == "opt-in"
        assert stat.S_IMODE((folder / "deaf.home.token").stat().st_mode) == 0o600
        text = (folder / "deaf.toml").read_text(encoding="utf-8")
        assert "# deaf: written by `relay init`" in text
        assert '# url = "https://mastodon.example"' in text  # the example's source, commented out
        assert "[digest]" in text
        checked = run_relay("check", "-c", str(folder / "deaf.toml"))
        assert checked.returncode == 0, checked.stdout

    def test_a_second_relay_beside_the_first_shares_no_file(
        self, tmp_path: Path, home: Instance, bot: SeededAccount
    ) -> None:
        """Two names in one folder: two configurations, tokens and state files; a token already
        written for a name is used as it is; the same name again is refused without --force."""
        folder = tmp_path / "etc"
        second = home.create_account("otherbot", bot=True)
        folder.mkdir()
        write_token_file(folder / "first.home.token", bot.token)  # as `relay login` would have
        write_token_file(folder / "second.home.token", second.token)
        for name in ("first", "second"):
            done = run_relay(*init_flags(home, folder, name))
            assert done.returncode == 0, done.stdout + done.stderr
            assert f"Using the token already in {folder / name}.home.token" in done.stdout
        one, two = load_config(folder / "first.toml"), load_config(folder / "second.toml")
        assert len({one.state, two.state}) == 2
        assert len({one.home.token_file, two.home.token_file}) == 2
        again = run_relay(*init_flags(home, folder, "first"))
        assert again.returncode == 2
        assert "exists already" in again.stderr
        assert run_relay(*init_flags(home, folder, "first", "--force")).returncode == 0

    def test_a_missing_value_names_its_flag(self, tmp_path: Path) -> None:
        """--yes without --instance: exit 2 naming the flag, nothing written."""
        done = run_relay("init", "--yes", "--hashtag", "X", "--dir", str(tmp_path))
        assert done.returncode == 2
        assert "--instance is needed" in done.stderr
        assert list(tmp_path.iterdir()) == []


class TestInteractive:
    def test_questions_take_defaults_and_answers(
        self, tmp_path: Path, home: Instance, bot: SeededAccount
    ) -> None:
        """Asked in turn: instance, hashtags, moderators, consent (default optout), name (default from
        the hashtag), folder; the answers end up in the file."""
        folder = tmp_path / "conf"
        folder.mkdir()
        write_token_file(folder / "deaftherapistsconnect.home.token", bot.token)
        home.create_account("carol")
        answers = f"{home.url}\n#DeafTherapistsConnect\ncarol@{home.domain}\n\n\n{folder}\n"
        args = init.build_args([])
        out = StringIO()
        code = init.run_init(args, stdin=StringIO(answers), stdout=out, run_check=lambda path: 0)
        assert code == 0, out.getvalue()
        assert "Authors' consent: optout (boost unless they say no) or optin [optout]: " in out.getvalue()
        config = load_config(folder / "deaftherapistsconnect.toml")
        assert config.rules.consent.mode == "opt-out"
        assert config.moderation.moderators == (f"carol@{home.domain}",)


class TestDerive:
    def test_the_shipped_example_takes_every_answer(self) -> None:
        """Every answered key is replaced in place, comments kept; [[sources]] is commented out."""
        example = (ROOT / "relay.toml").read_text(encoding="utf-8")
        where = paths("deaf", PurePath("/etc/relay"))
        answers = Answers(
            "deaf", "https://therapists.example", ("DeafTherapistsConnect",), ("carol@therapists.example",),
            "opt-in", "open", where, timezone="Europe/London",
        )  # fmt: skip
        text = derive(example, answers)
        assert 'hashtags = ["DeafTherapistsConnect"]\n' in text
        assert 'state = "/var/lib/relay/deaf.sqlite3"\n' in text
        assert 'token_file = "/etc/relay/deaf.home.token"\n' in text
        assert 'mode = "opt-in"                 # "opt-out": boost unless' in text
        assert 'timezone = "Europe/London"' in text
        assert "\n[[sources]]" not in text
        assert text.count("\n#") > example.count("\n#")  # every comment kept, and more
        with pytest.raises(ValueError, match=r"has no moderation\.moderators"):
            derive(example.replace("moderators = [", "mods = ["), answers)

    def test_paths_by_name(self) -> None:
        """Under /etc/relay the state goes to the unit's StateDirectory; elsewhere beside the config."""
        systemd = paths("deaf", PurePath("/etc/relay"))
        assert (str(systemd.config), str(systemd.token), str(systemd.state)) == (
            "/etc/relay/deaf.toml", "/etc/relay/deaf.home.token", "/var/lib/relay/deaf.sqlite3"
        )  # fmt: skip
        assert str(paths("deaf", PurePath("/srv/r")).state) == "/srv/r/deaf.sqlite3"
        for bad in ("-x", "Deaf", "a/b", "", "a b"):
            with pytest.raises(ValueError, match="not a relay name"):
                paths(bad, PurePath("/etc/relay"))


def test_help_runs_as_a_process() -> None:
    """`relay init --help` lists the flags."""
    done = subprocess.run(
        [sys.executable, "-m", "relay", "init", "--help"],
        capture_output=True,
        text=True,
        env=relay_env(),
        timeout=30,
    )
    assert done.returncode == 0
    for flag in ("--instance", "--hashtag", "--moderator", "--mode", "--dir", "--name", "--non-interactive"):
        assert flag in done.stdout
