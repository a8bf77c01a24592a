"""Tokens: only from a 0600 file or the environment, and never in a log line."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest
import structlog

from relay.config.credentials import read_token, read_token_file, write_token_file
from relay.config.load import InstanceConfig
from relay.errors import CredentialsError
from relay.log import configure_logging


def instance(token_file: Path | None) -> InstanceConfig:
    return InstanceConfig(
        url="https://therapists.example", token_file=token_file, token_env="RELAY_HOME_TOKEN"
    )


class TestTokenFile:
    def test_written_with_mode_0600(self, tmp_path: Path) -> None:
        """write_token_file creates the file readable by its owner only."""
        path = tmp_path / "sub" / "home.token"
        write_token_file(path, "s3cret-token")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert read_token_file(path) == "s3cret-token"

    def test_world_readable_file_is_refused_with_chmod(self, tmp_path: Path) -> None:
        """A 0644 token file is refused and the fix is the exact chmod."""
        path = tmp_path / "home.token"
        path.write_text("s3cret-token\n")
        os.chmod(path, 0o644)
        with pytest.raises(CredentialsError) as info:
            read_token_file(path)
        assert "mode 0644" in info.value.message
        assert info.value.fix == f"chmod 600 {path}"
        assert info.value.exit_code == 2

    def test_missing_file_points_to_login(self, tmp_path: Path) -> None:
        """A missing token file says how to make one."""
        with pytest.raises(CredentialsError) as info:
            read_token_file(tmp_path / "none.token")
        assert "relay login" in (info.value.fix or "")

    def test_empty_file_is_refused(self, tmp_path: Path) -> None:
        """An empty token file is an error, not an anonymous client."""
        path = tmp_path / "home.token"
        write_token_file(path, "")
        with pytest.raises(CredentialsError, match="is empty"):
            read_token_file(path)

    def test_systemd_credential_is_read_instead(self, tmp_path: Path) -> None:
        """With $CREDENTIALS_DIRECTORY, the credential named like the token file is read from there."""
        unreadable = tmp_path / "etc" / "therapists.home.token"  # what root owns; not readable here
        credentials = tmp_path / "credentials"
        write_token_file(credentials / "therapists.home.token", "from-systemd")
        os.chmod(credentials / "therapists.home.token", 0o400)  # as systemd creates it
        token = read_token_file(unreadable, environ={"CREDENTIALS_DIRECTORY": str(credentials)})
        assert token == "from-systemd"


class TestReadToken:
    def test_environment_wins_over_file(self, tmp_path: Path) -> None:
        """RELAY_HOME_TOKEN is used instead of the file when set."""
        path = tmp_path / "home.token"
        write_token_file(path, "from-file")
        token = read_token(instance(path), environ={"RELAY_HOME_TOKEN": "from-env"})
        assert token == "from-env"

    def test_file_when_environment_is_empty(self, tmp_path: Path) -> None:
        """Without the variable the file is read."""
        path = tmp_path / "home.token"
        write_token_file(path, "from-file")
        assert read_token(instance(path), environ={}) == "from-file"

    def test_none_without_file_or_variable(self) -> None:
        """A source with neither has no token (it will be polled anonymously)."""
        assert read_token(instance(None), environ={}) is None

    def test_token_never_reaches_a_log_line(self, tmp_path: Path) -> None:
        """Once read, a token is redacted from every log value, however it is embedded."""
        path = tmp_path / "home.token"
        write_token_file(path, "tok-9f8e7d6c5b4a")
        token = read_token(instance(path), environ={})
        out = io.StringIO()
        configure_logging("debug", json=True, stream=out)
        log = structlog.get_logger()
        log.info("x.request", url=f"https://a.example/api?access_token={token}", headers={"h": [token]})
        log.info("x.auth", token="anything", authorization=f"Bearer {token}")
        log.error("x.failed", error=ValueError(f"bad {token}"))
        text = out.getvalue()
        assert token not in text
        lines = [json.loads(line) for line in text.splitlines()]
        assert lines[0]["url"] == "https://a.example/api?access_token=[REDACTED]"
        assert lines[1]["token"] == "[REDACTED]"
        assert lines[2]["error"] == "bad [REDACTED]"
