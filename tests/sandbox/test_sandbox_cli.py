"""``relay sandbox`` (also ``python -m relay.sandbox``): starts, prints URLs and tokens, stops on signals."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
import requests

from relay.sandbox.testing import StreamTap


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start real sandbox processes (two instances, a seeded account on each, plus any extra
    arguments); each is killed when the test ends."""
    processes: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> subprocess.Popen[str]:
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
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(5)
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()


@pytest.fixture
def sandbox_process(start_sandbox: Callable[..., subprocess.Popen[str]]) -> subprocess.Popen[str]:
    """A real sandbox process with two instances and a seeded account on each."""
    return start_sandbox()


def read_banner(process: subprocess.Popen[str]) -> list[str]:
    """Lines printed up to ``ready`` (the process prints them at start-up)."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        if line.strip() == "ready":
            return lines
        lines.append(line.strip())
    pytest.fail(f"sandbox exited before ready: {process.stderr.read() if process.stderr else ''}")


def run_sandbox(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m relay.sandbox ARGS` to its end (for arguments that stop it at once)."""
    return subprocess.run(
        [sys.executable, "-m", "relay.sandbox", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


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
        result = run_sandbox("--account", "nowhere:alice")
        assert result.returncode == 2
        assert "nowhere" in result.stderr

    def test_reorder_streams_flag_sends_deletes_before_their_posts(
        self, start_sandbox: Callable[..., subprocess.Popen[str]]
    ) -> None:
        """With --reorder-streams, a post deleted at once reaches a hashtag stream as its delete first."""
        banner = read_banner(start_sandbox("--reorder-streams", "1"))
        home = next(line.split()[2] for line in banner if line.startswith("instance home "))
        token = next(line for line in banner if "instance=home" in line).split("token=")[1]
        auth = {"Authorization": f"Bearer {token}"}
        stream = StreamTap(f"{home}/api/v1/streaming/hashtag?tag=relay", token)
        try:
            stream.wait_for(lambda t: t.text().startswith(":)"))
            posted = requests.post(
                f"{home}/api/v1/statuses", data={"status": "gone #relay"}, headers=auth, timeout=5
            ).json()
            requests.delete(f"{home}/api/v1/statuses/{posted['id']}", headers=auth, timeout=5)
            stream.wait_for(lambda t: len(t.events()) == 2, timeout=10)
        finally:
            stream.close()
        assert [e.name for e in stream.events()] == ["delete", "update"]

    @pytest.mark.parametrize("value", ["0", "-1", "soon"])
    def test_reorder_streams_needs_positive_seconds(self, value: str) -> None:
        """--reorder-streams with no positive number of seconds is a usage error (exit 2)."""
        result = run_sandbox("--reorder-streams", value)
        assert result.returncode == 2
        assert "positive number of seconds" in result.stderr


class TestFlavourFlag:
    def test_flavour_with_version_is_served(
        self, start_sandbox: Callable[..., subprocess.Popen[str]]
    ) -> None:
        """--flavour home=gotosocial:v0.20.0-rc1 makes home a GoToSocial reporting that version."""
        banner = read_banner(start_sandbox("--flavour", "home=gotosocial:v0.20.0-rc1"))
        home = next(line.split()[2] for line in banner if line.startswith("instance home "))
        assert "flavour home gotosocial gotosocial v0.20.0-rc1" in banner
        info = requests.get(f"{home}/nodeinfo/2.0", timeout=5).json()
        assert info["software"] == {"name": "gotosocial", "version": "v0.20.0-rc1"}
        assert requests.get(f"{home}/api/v1/streaming/health", timeout=5).status_code == 404

    @pytest.mark.parametrize(
        ("value", "message"),
        [("home=pleromium", "unknown flavour"), ("home", "INSTANCE=KIND"), ("nowhere=akkoma", "nowhere")],
    )
    def test_bad_flavour_exits_2(self, value: str, message: str) -> None:
        result = run_sandbox("--flavour", value)
        assert result.returncode == 2
        assert message in result.stderr
