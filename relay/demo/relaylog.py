"""The real `relay run` as a subprocess, and what its JSON log says happened to each post.

`RelayProcess` starts `python -m relay --log-format json run -c relay.toml` (the code path of
`relay run`, nothing simulated), copies every line it writes to `relay.log` in the demo folder, and
turns the log events into one `PostFacts` per post uri: how it was first seen, the verdict, the
boost, the retraction. Waits have deadlines and wake on every log line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

# Variables the relay would read instead of the demo's token files, and systemd's notify socket.
_SCRUBBED_ENV = ("RELAY_", "NOTIFY_SOCKET", "WATCHDOG_", "CREDENTIALS_DIRECTORY")


@dataclass
class PostFacts:
    """What the relay's log says about one post (by its ActivityPub uri)."""

    uri: str
    acct: str
    source: str  # host[:port] of the instance that delivered it first
    via: str  # "stream" | "catch-up" | "poll" | "rss"
    decision: str  # "accept" | "hold" | "reject" (the latest verdict, after edits too)
    reasons: tuple[str, ...]  # "rule: detail" for every rule that held or rejected it
    screened_at: datetime
    boosted_at: datetime | None = None
    not_boosted: str | None = None  # why an accepted post was not reblogged (dry run, refused)
    retracted_at: datetime | None = None
    retract_reason: str | None = None
    unboosted_at: datetime | None = None

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(r.partition(":")[0] for r in self.reasons)


def _when(entry: dict[str, Any]) -> datetime:
    stamp = entry.get("timestamp")
    return datetime.fromisoformat(stamp) if isinstance(stamp, str) else datetime.now().astimezone()


def _error_text(name: str, entry: dict[str, Any]) -> str:
    """`event: message`, with an exception's last line rather than its whole traceback."""
    detail = entry.get("error") or str(entry.get("exception") or "").strip().splitlines()[-1:]
    if isinstance(detail, list):
        detail = detail[0] if detail else ""
    return f"{name}: {detail}" if detail else name


@dataclass
class RelayProcess:
    """One `relay run` process over the demo's relay.toml."""

    config: Path
    log_path: Path
    on_change: Callable[[PostFacts], None] | None = None  # called from the reader thread
    posts: dict[str, PostFacts] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # log events by name, and by "name:via"
    errors: list[str] = field(default_factory=list)  # error-level events, tracebacks
    ended: bool = False
    process: subprocess.Popen[bytes] | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _reader: threading.Thread | None = None

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "relay", "--log-format", "json", "run", "-c", str(self.config)]

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV)}
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
        )
        assert self.process.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self.process.stdout,), name="relay-log", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, as systemd would; the exit code (killed after `timeout`: -9)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        return code

    # -- reading the log -------------------------------------------------------------------------

    def _read(self, stream: IO[bytes]) -> None:
        with self.log_path.open("ab") as raw:
            for line in stream:
                raw.write(line)
                raw.flush()
                changed = self._take(line.decode("utf-8", errors="replace").rstrip("\n"))
                if changed is not None and self.on_change is not None:
                    self.on_change(changed)
        with self._cond:
            self.ended = True
            self._cond.notify_all()

    def _take(self, line: str) -> PostFacts | None:
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        with self._cond:
            try:
                if not isinstance(entry, dict):
                    if "Traceback" in line or "Error" in line:  # Python's own crash output
                        self.errors.append(line.strip())
                    return None
                name = str(entry.get("event", ""))
                for key in (name, f"{name}:{entry.get('via')}"):
                    self.counts[key] = self.counts.get(key, 0) + 1
                if entry.get("level") in ("error", "critical"):
                    self.errors.append(_error_text(name, entry))
                return self._apply(name, entry)
            finally:
                self._cond.notify_all()

    def _apply(self, name: str, entry: dict[str, Any]) -> PostFacts | None:
        uri = entry.get("uri")
        if not isinstance(uri, str):
            return None
        when = _when(entry)
        if name == "post.screened":
            facts = self.posts.get(uri)
            reasons = tuple(str(r) for r in entry.get("reasons") or ())
            if facts is None:
                facts = PostFacts(
                    uri=uri,
                    acct=str(entry.get("acct", "")),
                    source=str(entry.get("source", "")),
                    via=str(entry.get("via", "")),
                    decision=str(entry.get("decision", "")),
                    reasons=reasons,
                    screened_at=when,
                )
                self.posts[uri] = facts
            else:  # an edit, screened again
                facts.decision, facts.reasons = str(entry.get("decision", "")), reasons
            return facts
        facts = self.posts.get(uri)
        if facts is None:
            return None
        if name == "boost.done":
            # The booster logs boost.done after a dry run too: that one reblogged nothing.
            if facts.not_boosted is None or not facts.not_boosted.startswith("dry run"):
                facts.boosted_at, facts.not_boosted = when, None
        elif name == "boost.dry_run":
            facts.not_boosted = "dry run: not reblogged"
        elif name == "boost.refused":
            facts.not_boosted = f"refused: {entry.get('reason')}"
        elif name == "post.retracted":
            facts.retracted_at, facts.retract_reason = when, str(entry.get("reason", ""))
        elif name in ("unboost.done", "post.edit_unboost"):
            facts.unboosted_at = when
        else:
            return None
        return facts

    # -- waiting ---------------------------------------------------------------------------------

    def wait(
        self,
        predicate: Callable[[], bool],
        timeout: float,
        *,
        abort: threading.Event | None = None,
        poll: float = 0.05,
    ) -> bool:
        """Wait until `predicate()` (evaluated under the log's lock) holds: True, or False at the
        deadline, when the relay has ended, or when `abort` is set. Wakes on every log line, and
        every `poll` seconds for conditions on the sandbox or the database."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if predicate():
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or self.ended or (abort is not None and abort.is_set()):
                    return False
                self._cond.wait(min(left, poll))

    def seen(self, event: str) -> int:
        with self._cond:
            return self.counts.get(event, 0)

    def facts(self, uri: str) -> PostFacts | None:
        with self._cond:
            return self.posts.get(uri)

    def snapshot(self) -> list[PostFacts]:
        with self._cond:
            return list(self.posts.values())

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
