"""`relay login`: the real process completes the OAuth code flow against the sandbox; tokens stay private."""

from __future__ import annotations

import argparse
import queue
import re
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from mastodon import Mastodon
from oauthhelp import code_from_page
from relayproc import relay_env
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from relay.cli import login
from relay.cli.checklist import REQUIRED_SCOPES, required_scopes
from relay.cli.login import app_file
from relay.config.credentials import write_token_file
from relay.core.servers import GOTOSOCIAL, MASTODON, UNKNOWN
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.sandbox.flavours import flavour_named


def relay(*args: str, stdin: int | None = subprocess.PIPE, cwd: Path | None = None) -> subprocess.Popen[str]:
    """Start `python -m relay ...` with text pipes and without any RELAY_* variable."""
    return subprocess.Popen(
        [sys.executable, "-m", "relay", "--log-format", "console", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=relay_env(),
    )


class LineReader:
    """Reads a pipe line by line on a thread, so a test can wait for a line with a deadline."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe: IO[str]) -> None:
        for line in pipe:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The first line (from now) matching `pattern`; fail after `timeout` s or at end of output."""
        regex = re.compile(pattern)
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout} s: {self.seen}"
                ) from None
            if line is None:
                raise AssertionError(f"output ended without a line matching {pattern!r}: {self.seen}")
            self.seen.append(line)
            match = regex.search(line)
            if match:
                return match

    def rest(self, timeout: float = 20.0) -> str:
        """Everything until the end of output."""
        self._thread.join(timeout)
        while True:
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                return "".join(self.seen)
            self.seen.append(line)


def paste_code(
    proc: subprocess.Popen[str], home: Instance, alice: SeededAccount, page: str = r"^(http://\S+)$"
) -> LineReader:
    """Wait for the page `relay login` prints, authorise it as alice and paste its code; the output so far."""
    assert proc.stdout is not None
    assert proc.stdin is not None
    out = LineReader(proc.stdout)
    url = out.wait_for(page).group(1)
    home.log_in(alice)
    proc.stdin.write(code_from_page(url) + "\n")
    proc.stdin.close()
    return out


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections (bound, never listening)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


class TestCodeFlow:
    def test_interactive_login_writes_a_private_working_token(
        self, tmp_path: Path, home: Instance, alice: SeededAccount
    ) -> None:
        """The process prints the page, takes the pasted code, writes a 0600 token for that account."""
        token_file = tmp_path / "home.token"
        proc = relay("login", "--instance", home.url, "--token-file", str(token_file))
        out = paste_code(proc, home, alice, page=r"^(http://\S+/oauth/authorize\S*)$")
        assert proc.wait(timeout=20) == 0, proc.stderr.read() if proc.stderr else ""
        printed = out.rest()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text(encoding="utf-8").strip()
        assert token not in printed
        assert f"@alice@{home.url.split('://')[1]}" in printed
        assert "relay check" in printed
        me = Mastodon(access_token=token, api_base_url=home.url)
        assert me.account_verify_credentials()["acct"] == "alice"
        assert me.app_verify_credentials()["name"] == "relay"

    def test_token_has_the_scopes_the_relay_needs(
        self, tmp_path: Path, home: Instance, alice: SeededAccount
    ) -> None:
        """The token is granted exactly the scopes `relay check` requires."""
        token_file = tmp_path / "home.token"
        proc = relay("login", "--instance", home.url, "--token-file", str(token_file))
        paste_code(proc, home, alice)
        assert proc.wait(timeout=20) == 0
        token = token_file.read_text(encoding="utf-8").strip()
        with home.lock:
            granted = home.state.tokens[token].scopes
        assert granted == frozenset(REQUIRED_SCOPES)

    def test_code_option_finishes_a_login_started_earlier(
        self, tmp_path: Path, home: Instance, alice: SeededAccount
    ) -> None:
        """Without stdin the first run prints the page and stops; `--code` then finishes with the same app."""
        token_file = tmp_path / "bot.token"
        first = relay(
            "login", "--instance", home.url, "--token-file", str(token_file), stdin=subprocess.DEVNULL
        )
        out, err = first.communicate(timeout=20)
        assert first.returncode == 2
        assert "--code" in err
        assert stat.S_IMODE(app_file(token_file).stat().st_mode) == 0o600
        url = re.search(r"^(http://\S+)$", out, re.MULTILINE)
        assert url is not None
        home.log_in(alice)
        assert "--code=CODE" in err  # with "=": a code may begin with "-", as one here did once
        code = code_from_page(url[1])
        second = relay("login", "--instance", home.url, "--token-file", str(token_file), f"--code={code}")
        out, err = second.communicate(timeout=20)
        assert second.returncode == 0, err
        token = token_file.read_text(encoding="utf-8").strip()
        me = Mastodon(access_token=token, api_base_url=home.url)
        assert me.account_verify_credentials()["acct"] == "alice"

    def test_default_token_file_is_named_for_the_host(
        self, tmp_path: Path, home: Instance, alice: SeededAccount
    ) -> None:
        """Without --token-file the token goes to ./HOST.token (':' of a port as '_')."""
        proc = relay("login", "--instance", home.url, cwd=tmp_path)
        paste_code(proc, home, alice)
        assert proc.wait(timeout=20) == 0
        expected = tmp_path / (home.url.split("://")[1].replace(":", "_") + ".token")
        assert stat.S_IMODE(expected.stat().st_mode) == 0o600


class TestErrors:
    def test_wrong_code_exits_2_with_a_message(self, tmp_path: Path, home: Instance) -> None:
        """A code the instance does not know ends with exit 2, one message, no traceback, no file."""
        token_file = tmp_path / "home.token"
        proc = relay("login", "--instance", home.url, "--token-file", str(token_file), "--code", "nonsense")
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 2
        assert "did not accept the authorisation code" in err
        assert "Traceback" not in err
        assert not token_file.exists()

    def test_unreachable_instance_exits_1(self, tmp_path: Path, closed_port: int) -> None:
        """An instance that refuses connections ends with exit 1 and says it cannot be reached."""
        proc = relay(
            "login", "--instance", f"http://127.0.0.1:{closed_port}", "--token-file", str(tmp_path / "t")
        )
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1
        assert "cannot reach" in err
        assert "Traceback" not in err

    def test_plain_http_is_refused_for_a_public_host(self, tmp_path: Path) -> None:
        """http:// to a non-loopback host is refused before any request, with the https fix."""
        proc = relay("login", "--instance", "http://therapists.example", "--token-file", str(tmp_path / "t"))
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 2
        assert "https://therapists.example" in err


class TestRunRefusesReadableToken:
    def test_group_readable_token_file_stops_relay_run_with_the_chmod_fix(self, tmp_path: Path) -> None:
        """`relay run` with a 0644 token file exits 2 and names `chmod 600` (before any network)."""
        token_file = tmp_path / "home.token"
        write_token_file(token_file, "secret-token-value")
        token_file.chmod(0o644)
        config = tmp_path / "relay.toml"
        config.write_text(
            'hashtags = ["TherapistsConnect"]\n'
            '[home]\nurl = "http://127.0.0.1:9"\ntoken_file = "home.token"\n',
            encoding="utf-8",
        )
        proc = relay("run", "-c", str(config))
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 2
        assert f"chmod 600 {token_file}" in err
        assert "secret-token-value" not in err


def test_a_code_beginning_with_a_dash_is_read_in_the_form_the_hint_gives() -> None:
    """OAuth codes are URL-safe base64: one may begin with "-", which argparse would take for an
    option after a space; `--code=CODE`, the form the hint prints, always works."""
    parser = argparse.ArgumentParser()
    login.add_arguments(parser)
    args = parser.parse_args(["--instance", "https://a.example", "--code=-Zx_9"])
    assert args.code == "-Zx_9"


class TestAnyServer:
    @pytest.mark.parametrize(
        ("flavour", "version"),
        [
            ("gotosocial", "v0.20.0-rc1"),  # what GoToSocial's own build script produces
            ("gotosocial", "0.20.0-rc1+git-57cb4fe"),
            ("akkoma", "2.7.2 (compatible; Akkoma 3.15.2)"),
            ("mastodon", "garbage"),
            ("mastodon", ""),
        ],
    )
    def test_any_version_string_logs_in(self, tmp_path: Path, flavour: str, version: str) -> None:
        """Whatever version the instance reports, the login finishes: no traceback from parsing
        it, a working token, nothing else left over but the app registration."""
        with Fediverse(["home"], flavours={"home": flavour_named(flavour, version)}) as fed:
            home = fed["home"]
            alice = home.create_account("alice")
            token_file = tmp_path / "home.token"
            proc = relay("login", "--instance", home.url, "--token-file", str(token_file))
            paste_code(proc, home, alice)
            assert proc.wait(timeout=20) == 0, proc.stderr.read() if proc.stderr else ""
            assert proc.stderr is not None
            assert "Traceback" not in proc.stderr.read()
            token = token_file.read_text(encoding="utf-8").strip()
            me = Mastodon(access_token=token, api_base_url=home.url, version_check_mode="none")
            assert me.account_verify_credentials()["acct"] == "alice"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["home.token", "home.token.app"]

    def test_gotosocial_token_can_stream(self, tmp_path: Path) -> None:
        """On GoToSocial the token is granted the top-level `read` its streaming requires: the
        WebSocket upgrade that a granular-scope token gets 403 for is accepted."""
        with Fediverse(["home"], flavours={"home": "gotosocial"}) as fed:
            home = fed["home"]
            alice = home.create_account("alice")
            token_file = tmp_path / "home.token"
            proc = relay("login", "--instance", home.url, "--token-file", str(token_file))
            out = paste_code(proc, home, alice)
            assert proc.wait(timeout=20) == 0
            assert "runs gotosocial 0.20.0-rc1+git-57cb4fe: asking for read write:follows" in out.rest()
            token = token_file.read_text(encoding="utf-8").strip()
            with home.lock:
                assert "read" in home.state.tokens[token].scopes
            ws = f"ws://{home.url.split('://')[1]}/api/v1/streaming?stream=user"
            with ws_connect(ws, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=5):
                pass
            granular = home.create_token(alice, scopes=REQUIRED_SCOPES)
            with pytest.raises(InvalidStatus) as refused:
                ws_connect(ws, additional_headers={"Authorization": f"Bearer {granular}"}, open_timeout=5)
            assert refused.value.response.status_code == 403

    def test_a_failure_after_registering_leaves_nothing_behind(
        self, tmp_path: Path, home: Instance, alice: SeededAccount
    ) -> None:
        """When the login fails after this run registered the app (here: the new token does not
        work), it ends with one message and removes the registration it wrote: no stray `.app`."""
        token_file = tmp_path / "home.token"
        home.fail_next(3, status=401, path_prefix="/api/v1/accounts/verify_credentials")
        proc = relay("login", "--instance", home.url, "--token-file", str(token_file))
        out = paste_code(proc, home, alice)
        assert proc.wait(timeout=20) == 2
        out.rest()
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert "gave a token that does not work" in err
        assert "Traceback" not in err
        assert sorted(p.name for p in tmp_path.iterdir()) == []

    def test_the_server_and_the_scopes_are_named(
        self, tmp_path: Path, home: Instance, alice: SeededAccount
    ) -> None:
        """Before the page, login says which server it found and which permissions it asks for."""
        proc = relay("login", "--instance", home.url, "--token-file", str(tmp_path / "t"))
        out = paste_code(proc, home, alice)
        assert proc.wait(timeout=20) == 0
        assert re.search(r"runs \S+.*: asking for " + re.escape(" ".join(REQUIRED_SCOPES)), out.rest())


class TestNoNodeInfo:
    def test_a_server_without_nodeinfo_is_taken_as_mastodon(
        self, tmp_path: Path, home: Instance, alice: SeededAccount
    ) -> None:
        """Where NodeInfo does not answer, login says so and asks for Mastodon's scopes."""
        home.fail_next(1, status=404, path_prefix="/.well-known/nodeinfo")
        proc = relay("login", "--instance", home.url, "--token-file", str(tmp_path / "t"))
        out = paste_code(proc, home, alice)
        assert proc.wait(timeout=20) == 0
        printed = out.rest()
        assert "runs a server it does not name (/.well-known/nodeinfo answered HTTP 404)" in printed
        assert "asking for " + " ".join(REQUIRED_SCOPES) in printed


def test_gotosocial_is_asked_for_the_top_level_read() -> None:
    """GoToSocial gets `read` (its streaming refuses granular reads); Mastodon the granular scopes."""
    assert required_scopes(GOTOSOCIAL) == ("read", "write:follows", "write:notifications", "write:statuses")
    assert required_scopes(MASTODON) == REQUIRED_SCOPES
    assert required_scopes(UNKNOWN) == REQUIRED_SCOPES
