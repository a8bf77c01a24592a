"""``relay sandbox`` (also ``python -m relay.sandbox``): starts, prints URLs and tokens, stops on signals."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests


@pytest.fixture
def sandbox_process() -> Iterator[subprocess.Popen[str]]:
    """A real sandbox process with two instances and a seeded account on each."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relay",  # `relay sandbox`, as the README shows it
            "sandbox",
            "--instance",
            "home",
            "--instance",
            "remote",
            "--account",
            "home:alice",
            "--account",
            "remote:bob",
            "--heartbeat",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(5)
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    process.stderr.close()


def read_banner(process: subprocess.Popen[str]) -> list[str]:
    """Lines printed up to ``ready`` (the process prints them at start-up)."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        if line.strip() == "ready":
            return lines
        lines.append(line.strip())
    pytest.fail(f"sandbox exited before ready: {process.stderr.read() if process.stderr else ''}")


class TestSandboxCommand:
    @pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
    def test_prints_urls_and_tokens_and_stops_on_signal(
        self, sandbox_process: subprocess.Popen[str], signum: int
    ) -> None:
        """The banner names each instance URL and token; the signal stops it with exit 0."""
        banner = read_banner(sandbox_process)
        instances = dict(line.split()[1:] for line in banner if line.startswith("instance "))
        assert set(instances) == {"home", "remote"}
        accounts = [line for line in banner if line.startswith("account ")]
        assert len(accounts) == 2
        token = next(a for a in accounts if "instance=home" in a).split("token=")[1]
        me = requests.get(
            f"{instances['home']}/api/v1/accounts/verify_credentials",
            timeout=5,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert me.json()["acct"] == "alice"
        sandbox_process.send_signal(signum)
        assert sandbox_process.wait(5) == 0

    def test_unknown_instance_in_account_flag_exits_2(self) -> None:
        """--account for an instance that is not started is a usage error (exit 2)."""
        result = subprocess.run(
            [sys.executable, "-m", "relay.sandbox", "--account", "nowhere:alice"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert result.returncode == 2
        assert "nowhere" in result.stderr
