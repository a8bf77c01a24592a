"""Start the real `relay run` process against a sandbox fediverse, and watch what it does.

`RelayProcess` writes a relay.toml (loopback URLs, 0600 token files) into a temporary folder,
starts `python -m relay run` with JSON logs, and offers waits with deadlines on its log events
and on what the home instance shows (which statuses the bot reblogged, how many reblog calls).
`connected_relay` starts one and waits until its first stream is connected. `run_relay` runs any
other `python -m relay` command to its end; `relay_env` is the environment it runs in.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import requests
from prometheus_client.parser import text_string_to_metric_families

from relay.config.credentials import write_token_file
from relay.sandbox import Fediverse, Instance, SeededAccount

T = TypeVar("T")
HASHTAG = "TherapistsConnect"


def wait_for(condition: Callable[[], T], *, timeout: float = 15.0, what: str = "condition") -> T:
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)  # polling interval of a wait with a deadline, not a synchronisation sleep


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}"] = sample.value
    return values


def relay_env() -> dict[str, str]:
    """The caller's environment without relay variables a developer may have set."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}


def run_relay(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run `python -m relay ARGS` in `relay_env()` to its end and return what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "relay", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=relay_env(),
    )


class RelayProcess:
    """One `relay run` process; `start()`, then wait on it; `stop()` or `kill()` it."""

    def __init__(
        self,
        folder: Path,
        fed: Fediverse,
        bot: SeededAccount,
        *,
        home: str = "home",
        streamed: tuple[tuple[str, SeededAccount], ...] = (),
        polled: tuple[str, ...] = (),
        mode: str = "open",
        moderators: tuple[str, ...] = (),
        moderation: str = "",
        extra: str = "",
        read_timeout: float = 5.0,
        poll_interval: float = 0.5,
        env: dict[str, str] | None = None,
        transports: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.env = env or {}  # added to the environment of every start
        self.fed = fed
        self.bot = bot
        self.home: Instance = fed[home]
        self.config = folder / "relay.toml"
        self.log_path = folder / "relay.log"
        self.state = folder / "relay.sqlite3"
        write_token_file(folder / "home.token", bot.token)
        lines = [
            f'hashtags = ["{HASHTAG}"]',
            'state = "relay.sqlite3"',
            "[home]",
            f'url = "{self.home.url}"',
            'token_file = "home.token"',
        ]
        transports = transports or {}

        def transport(name: str) -> list[str]:  # `transport = ...` where the test sets one
            return [f'transport = "{transports[name]}"'] if name in transports else []

        lines += transport(home)
        for name, account in streamed:
            write_token_file(folder / f"{name}.token", account.token)
            lines += [
                "[[sources]]",
                f'url = "{fed[name].url}"',
                f'token_file = "{name}.token"',
                *transport(name),
            ]
        for name in polled:
            lines += ["[[sources]]", f'url = "{fed[name].url}"', *transport(name)]
        lines += ["[moderation]", f'mode = "{mode}"']
        if moderators:
            lines.append("moderators = [" + ", ".join(f'"{m}"' for m in moderators) + "]")
        if moderation:
            lines.append(moderation)
        lines += ["[streams]", f"read_timeout = {read_timeout}", f"poll_interval = {poll_interval}"]
        self.config.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    # -- process ---------------------------------------------------------------------------------

    def start(self, *, wait_ready: bool = True, env: dict[str, str] | None = None) -> RelayProcess:
        self._log_file = self.log_path.open("ab")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "NOTIFY_", "WATCHDOG_"))}
        env = {**base, **self.env, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "relay", "--log-format", "json", "run", "-c", str(self.config)],
            stdout=self._log_file,
            stderr=self._log_file,
            env=env,
        )
        if wait_ready:
            self.wait_log("relay.started", timeout=20)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self._log_file.close()
        return code

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self._log_file.close()

    def wait_exit(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        self._log_file.close()
        return code

    def __enter__(self) -> RelayProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()

    # -- logs ------------------------------------------------------------------------------------

    def logs(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                events.append({"event": "<text>", "line": line})
        return events

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, event: str, *, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"relay exited with {self.process.returncode}:\n{self.log_text()[-3000:]}"
                )
            for entry in self.logs():
                if entry.get("event") == event and all(entry.get(k) == v for k, v in fields.items()):
                    return entry
            return None

        return wait_for(found, timeout=timeout, what=f"log event {event} {fields}")

    # -- what the home instance shows ------------------------------------------------------------

    def boosted_uris(self) -> list[str]:
        """The uris of the statuses the bot has reblogged on the home instance (one entry per reblog)."""
        state = self.home.state
        with state.lock:
            account = state.local_account(self.bot.username)
            return [
                s.reblog.uri for s in state.statuses.values() if s.reblog is not None and s.account is account
            ]

    def reblog_calls(self) -> int:
        """How many reblog requests the bot's token made."""
        return sum(
            1
            for r in self.home.requests
            if r.method == "POST" and r.path.endswith("/reblog") and r.token == self.bot.token
        )

    def wait_boosted(self, uri: str, *, timeout: float = 15.0) -> None:
        wait_for(lambda: uri in self.boosted_uris(), timeout=timeout, what=f"a boost of {uri}")


@contextmanager
def connected_relay(
    folder: Path, fed: Fediverse, bot: SeededAccount, **options: Any
) -> Iterator[RelayProcess]:
    """`RelayProcess(folder, fed, bot, **options)`, started and past its first `stream.connected`.

    Leaving the block kills the process if the test has not stopped it.
    """
    with RelayProcess(folder, fed, bot, **options) as relay:
        relay.wait_log("stream.connected")
        yield relay
