"""`relay run` as a systemd service: READY and WATCHDOG on the notify socket, metrics, SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mastodon import Mastodon
from relayproc import HASHTAG, RelayProcess, free_port, scrape, wait_for

from relay.sandbox import Fediverse, SeededAccount
from relay.store.store import Store


@pytest.fixture
def fed() -> Iterator[Fediverse]:
    """Home and remote instances with quick heartbeats."""
    with Fediverse(["home", "remote"], heartbeat=0.5) as fediverse:
        yield fediverse


class NotifyListener:
    """Stands in for systemd: reads $NOTIFY_SOCKET all the time (as PID 1 does), keeping every line."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                self.lines.extend(self.sock.recv(4096).decode().splitlines())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifyListener]:
    """A listener on a datagram socket standing in for systemd's $NOTIFY_SOCKET."""
    listener = NotifyListener(tmp_path / "notify.sock")
    yield listener
    listener.close()


def relay_status(relay: RelayProcess) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "relay", "status", "-c", str(relay.config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def test_ready_watchdog_metrics_and_sigterm(
    tmp_path: Path, fed: Fediverse, notify_socket: NotifyListener
) -> None:
    """READY and WATCHDOG reach the notify socket, metrics and `relay status` show the running relay,
    SIGTERM exits 0 fast."""
    bot: SeededAccount = fed["home"].create_account("relaybot", bot=True)
    bob = fed["remote"].create_account("bob")
    port = free_port()
    relay = RelayProcess(tmp_path, fed, bot, extra=f'[metrics]\naddress = "127.0.0.1:{port}"\n')
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "400000"}
    relay.start(env=env)
    try:
        wait_for(lambda: "READY=1" in notify_socket.lines, what="READY=1")
        wait_for(lambda: notify_socket.lines.count("WATCHDOG=1") >= 3, what="the watchdog fed repeatedly")
        status = Mastodon(access_token=bob.token, api_base_url=fed["remote"].url).status_post(
            f"Hello #{HASHTAG}"
        )
        relay.wait_boosted(status["uri"])
        metrics = wait_for(
            lambda: (m := scrape(port)).get("relay_boosts_total{}") == 1.0 and m, what="the boost counted"
        )
        assert metrics[f"relay_posts_seen_total{{source={fed['home'].domain},via=stream}}"] >= 1
        assert metrics[f"relay_stream_connected{{stream={fed['home'].domain}#{HASHTAG}}}"] == 1.0
        assert metrics["relay_verdicts_total{decision=accept,rule=none}"] == 1.0
        assert bot.token not in relay.log_text()
        stream = f"{fed['home'].domain}#{HASHTAG}"

        def shows_connected() -> str | None:
            out = relay_status(relay)
            return out if f"{stream}  connected" in out else None

        status_text = wait_for(shows_connected, what="relay status to show the stream connected")
        assert "1 boosted" in status_text
        started = time.monotonic()
        assert relay.stop(signal.SIGTERM, timeout=5) == 0
        stopped_in = time.monotonic() - started
        wait_for(lambda: "STOPPING=1" in notify_socket.lines, what="STOPPING=1")
        print(f"SIGTERM to exit: {stopped_in:.3f} s")
        with Store.open(relay.state, readonly=True) as store:
            assert store.boosts.unfinished_intents() == []
            assert store.boosts.is_boosted(status["uri"])
    finally:
        if relay.process is not None and relay.process.poll() is None:
            relay.kill()


_SIGNAL_IN_A_WRITE = """
import io, signal, threading
from relay.log import configure_logging
from relay.runtime.service import install_signal_handlers
import structlog

class Output(io.StringIO):
    # Log output that is interrupted by SIGTERM in the middle of its first write.
    raised = False
    def write(self, text):
        if not Output.raised:
            Output.raised = True
            signal.raise_signal(signal.SIGTERM)  # the handler runs here, on this thread
        return super().write(text)

out = Output()
configure_logging("info", json=True, stream=out)
stop = threading.Event()
received = install_signal_handlers(stop)
structlog.get_logger().info("busy.writing")
print("stopped" if stop.is_set() else "not stopped", received, out.getvalue().count("busy.writing"))
"""


def test_a_stop_signal_in_the_middle_of_a_log_write_stops_the_relay() -> None:
    """SIGTERM that lands while the main thread is inside a log write (holding the log's lock) sets
    the stop event and lets the write finish; a handler that logged waited for that lock forever."""
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_IN_A_WRITE], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["stopped", "['SIGTERM']", "1"]
