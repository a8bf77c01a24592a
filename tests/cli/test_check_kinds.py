"""`relay check` against each kind of server the sandbox plays: passing on a healthy setup, and
naming the failing item on a broken one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.cli.check import run
from relay.cli.checklist import REQUIRED_SCOPES
from relay.cli.main import build_parser
from relay.config.credentials import write_token_file
from relay.sandbox import Fediverse, Instance

FLAVOURS = ("mastodon", "gotosocial", "akkoma", "rest-only")
LABELS = {
    "mastodon": "mastodon 4.6.4",
    "gotosocial": "gotosocial 0.20.0-rc1+git-57cb4fe",
    "akkoma": "akkoma 3.15.2",
    "rest-only": "mitra 4.4.0",
}
METHODS = {
    "mastodon": "sse (per-tag)",
    "gotosocial": "websocket (follow)",
    "akkoma": "websocket (per-tag)",
    "rest-only": "rest (poll)",
}


class Setup:
    """A home of one flavour with a bot and a followed moderator, and a source of the same flavour."""

    def __init__(self, tmp: Path, fed: Fediverse) -> None:
        self.tmp, self.fed = tmp, fed
        self.bot = self.home.create_account("bot", bot=True)
        self.moderator = self.home.create_account("alice")
        self.home.follow(self.bot, self.moderator.acct)
        self.reader = self.source.create_account("reader")
        write_token_file(tmp / "home.token", self.bot.token)
        write_token_file(tmp / "source.token", self.reader.token)

    @property
    def home(self) -> Instance:
        return self.fed["home"]

    @property
    def source(self) -> Instance:
        return self.fed["source"]

    def write(self, *, source_token: bool = True, home_token: str | None = None) -> Path:
        if home_token is not None:
            write_token_file(self.tmp / "home.token", home_token)
        token = 'token_file = "source.token"\n' if source_token else ""
        path = self.tmp / "relay.toml"
        path.write_text(
            'hashtags = ["TherapistsConnect"]\nstate = "state.sqlite3"\n'
            f'[home]\nurl = "{self.home.url}"\ntoken_file = "home.token"\n'
            f'[[sources]]\nurl = "{self.source.url}"\n{token}'
            f"[moderation]\nmoderators = {json.dumps([self.moderator.acct])}\n",
            encoding="utf-8",
        )
        return path


@pytest.fixture(params=FLAVOURS)
def setup(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    monkeypatch.delenv("RELAY_HOME_TOKEN", raising=False)
    flavour = request.param
    with Fediverse(["home", "source"], heartbeat=0.2, flavours={"home": flavour, "source": flavour}) as fed:
        yield Setup(tmp_path, fed)


def check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, dict[str, str]]]:
    code = run(build_parser().parse_args(["check", "--json", "-c", str(config)]))
    out = capsys.readouterr().out
    body = json.loads(out[out.index('{\n  "config"') :])
    return code, {i["key"]: i for i in body["items"]}


def flavour(setup: Setup) -> str:
    return setup.home.state.flavour.name


class TestEachKind:
    def test_healthy_setup_passes_and_names_the_server(
        self, setup: Setup, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Every kind: exit 0, no ✗; the server is named as it says itself (never "Mastodon
        0.20.0-rc1"); each instance's feed item names the method chosen; moderators found."""
        code, items = check(setup.write(), capsys)
        failed = {k: i["detail"] for k, i in items.items() if i["status"] == "fail"}
        assert (code, failed) == (0, {})
        kind = flavour(setup)
        assert f"({LABELS[kind]})" in items["home"]["detail"]
        if kind != "mastodon":
            assert "Mastodon" not in items["home"]["detail"]
        assert items[f"feed:{setup.home.domain}"]["detail"].startswith(METHODS[kind])
        assert items["moderators"]["status"] == "ok"
        streaming = items[f"streaming:{setup.home.domain}"]
        assert streaming["status"] == ("skip" if kind == "rest-only" else "ok")

    def test_an_unreadable_feed_is_named(self, setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """Every kind: the home's tag timeline refusing the token is ✗ on the home's feed item."""
        setup.home.fail_next(5, status=401, path_prefix="/api/v1/timelines/tag")
        code, items = check(setup.write(), capsys)
        assert code == 1
        feed = items[f"feed:{setup.home.domain}"]
        assert feed["status"] == "fail"
        assert "timeline cannot be read with the relay's token (HTTP 401" in feed["detail"]

    def test_an_unknown_moderator_is_named(self, setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """Every kind: a moderator handle the home instance does not know is ✗ naming it."""
        config = setup.write()
        text = config.read_text(encoding="utf-8").replace(setup.moderator.acct, f"nobody@{setup.home.domain}")
        config.write_text(text, encoding="utf-8")
        code, items = check(config, capsys)
        assert code == 1
        assert items["moderators"]["status"] == "fail"
        assert f"nobody@{setup.home.domain}" in items["moderators"]["detail"]


class TestGoToSocial:
    @pytest.fixture
    def gts(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
        monkeypatch.delenv("RELAY_HOME_TOKEN", raising=False)
        flavours = {"home": "gotosocial", "source": "gotosocial"}
        with Fediverse(["home", "source"], heartbeat=0.2, flavours=flavours) as fed:
            yield Setup(tmp_path, fed)

    def test_tokenless_source_fails_on_its_feed(self, gts: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """A tokenless GoToSocial source (its tag timeline answers 401, its RSS is HTML) is ✗ with
        the fix, not ✓."""
        code, items = check(gts.write(source_token=False), capsys)
        assert code == 1
        feed = items[f"feed:{gts.source.domain}"]
        assert feed["status"] == "fail"
        assert "cannot be read without a token (HTTP 401" in feed["detail"]
        assert f"token for {gts.source.domain}" in feed["fix"]

    def test_granular_token_cannot_stream(self, gts: Setup, capsys: pytest.CaptureFixture[str]) -> None:
        """A bot token with Mastodon's granular scopes only is refused GoToSocial's streaming (403):
        ✗ on the streaming item, exit 2, with the fix (log in again: the top-level read)."""
        granular = gts.home.create_token(gts.bot, scopes=REQUIRED_SCOPES)
        code, items = check(gts.write(home_token=granular), capsys)
        assert code == 2
        streaming = items[f"streaming:{gts.home.domain}"]
        assert streaming["status"] == "fail"
        assert "refused the token: HTTP 403" in streaming["detail"]
        assert "top-level read" in streaming["fix"]
