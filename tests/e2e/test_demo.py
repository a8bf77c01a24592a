"""`relay demo` as a newcomer runs it: the real process, its own sandbox, the real relay inside."""

from __future__ import annotations

import json
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
import requests
from relayproc import relay_env, run_relay

from relay.demo.progress import rejected_by_rule, snippet
from relay.demo.relaylog import PostFacts

DEMO_DEADLINE = 60.0  # the bar: the demo itself must finish in under 30 s


def run_demo(*args: str, folder: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = run_relay("demo", "--dir", str(folder), *args, timeout=DEMO_DEADLINE)
    return done, time.monotonic() - started


def summary_value(output: str, label: str) -> str:
    match = re.search(rf"^  {re.escape(label)}\s+(\S+)", output, flags=re.M)
    assert match, f"no {label!r} row in the summary:\n{output}"
    return match.group(1)


@dataclass(frozen=True)
class DemoRun:
    done: subprocess.CompletedProcess[str]
    seconds: float
    folder: Path

    @property
    def out(self) -> str:
        return self.done.stdout


@pytest.fixture(scope="class")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One `relay demo` run, read by every test of the class."""
    folder = tmp_path_factory.mktemp("demo") / "run"
    done, seconds = run_demo(folder=folder)
    return DemoRun(done, seconds, folder)


class TestScenario:
    def test_the_demo_plays_every_step_and_exits_0(self, demo: DemoRun) -> None:
        """The scripted scenario runs to its summary with every expectation met, exit 0, in < 30 s."""
        out = demo.out
        assert demo.done.returncode == 0, out + demo.done.stderr
        assert "every expectation met (exit 0)" in out
        assert demo.seconds < 30, f"relay demo took {demo.seconds:.1f} s"
        met, total = summary_value(out, "expectations met").split("/")
        assert met == total
        assert "relay stopped with SIGTERM: exit code 0" in out

    def test_the_summary_counts_every_outcome(self, demo: DemoRun) -> None:
        """Boosted, held (and what became of them), rejected by rule, retracted, never seen."""
        out = demo.out
        assert summary_value(out, "screened") == "16"
        assert summary_value(out, "boosted") == "7"
        assert re.search(
            r"^  boosted\s+7\s+post → boost: median \d+\.\d\d s, max \d+\.\d\d s$", out, flags=re.M
        )
        assert re.search(
            r"^  held for review\s+2\s+h1 boosted, h2 rejected \(advertising\)$", out, flags=re.M
        )
        assert summary_value(out, "rejected") == "8"
        rules = dict(re.findall(r"^    (\S+)\s+(\d+)$", out, flags=re.M))
        assert rules == {
            "keywords.reject": "4",
            "bots": "1",
            "consent.opt_out": "1",
            "consent.refuse_tags": "1",
            "limits.same_text": "1",
            "replies": "1",
        }
        assert summary_value(out, "retracted") == "2"
        assert summary_value(out, "never reached the relay") == "1"

    def test_the_moderator_and_an_author_steer_the_relay_by_dm(self, demo: DemoRun) -> None:
        """The hold DM reaches the moderator, her `approve` and `reject` work, an author's `optout` too."""
        out = demo.out
        assert re.search(r'DM @relaybot → @maya: "Held for review: h1 by alice@', out)
        assert 'DM @maya → @relaybot, answering it: "approve"' in out
        assert re.search(r"h1 approved by @maya → boosted \(\d+\.\d+ s after her DM\)", out)
        assert 'DM @relaybot → @maya: "Rejected h2 (advertising)."' in out
        assert 'DM @bob → @relaybot: "optout"' in out
        assert "introduction → unboosted" in out
        assert re.search(r'"Bob again: .*rejected: consent\.opt_out', out)

    def test_the_output_is_for_people_and_the_raw_log_is_kept(self, demo: DemoRun) -> None:
        """No JSON on the terminal; the relay's own JSON log and the demo relay.toml stay in the folder."""
        assert not [line for line in demo.out.splitlines() if line.lstrip().startswith("{")]
        assert demo.done.stderr == ""
        relay_log = (demo.folder / "relay.log").read_text(encoding="utf-8")
        assert "relay.started" in [json.loads(line)["event"] for line in relay_log.splitlines()]
        assert str(demo.folder / "relay.log") in demo.out
        assert "[booster]" not in (demo.folder / "relay.toml").read_text(encoding="utf-8")
        assert oct((demo.folder / "home.token").stat().st_mode & 0o777) == "0o600"


class TestSabotage:
    def test_a_disabled_booster_makes_the_demo_fail_naming_what_was_missed(self, tmp_path: Path) -> None:
        """With the booster in dry-run mode nothing is reblogged: exit 1, naming the missed steps."""
        done, took = run_demo("--sabotage", "booster", folder=tmp_path / "demo")
        out = done.stdout
        assert done.returncode == 1, out
        assert "expectation(s) missed (exit 1)" in out
        assert "Introductions from three instances: expected boosted; instead: " in out
        assert "dry run: not reblogged" in out
        assert summary_value(out, "boosted") == "0"
        assert took < 30

    def test_ignoring_nobot_makes_the_demo_fail(self, tmp_path: Path) -> None:
        """With #nobot ignored the author is boosted: the demo names that step and the unexpected boost."""
        done, _ = run_demo("--sabotage", "consent", folder=tmp_path / "demo")
        out = done.stdout
        assert done.returncode == 1, out
        assert "An author with #nobot in the bio: expected rejected by consent.refuse_tags" in out
        assert "unexpected: nora" in out

    def test_a_used_folder_is_refused_with_exit_2(self, tmp_path: Path) -> None:
        """--dir must be empty: an old database would mix two sandboxes."""
        (tmp_path / "relay.sqlite3").write_text("old", encoding="utf-8")
        done, _ = run_demo(folder=tmp_path)
        assert done.returncode == 2
        assert "must be an empty folder" in done.stderr


class Lines:
    """The demo's stdout, line by line, read in a thread; waits have deadlines."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("not printed in time:\n" + "\n".join(self.seen))
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("the demo ended early:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if predicate(line):
                return line

    def rest(self, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
        return "\n".join(self.seen)


def run_printed_curl(command: str) -> int:
    """Run a printed `curl ... -X POST URL -H HEADER --data-urlencode FIELD` as it is, or the same
    request with requests where curl is not installed. Returns the HTTP status."""
    words = shlex.split(command)
    assert words[0] == "curl"
    if shutil.which("curl"):
        done = subprocess.run(
            [*words, "-o", "/dev/null", "-w", "%{http_code}"], capture_output=True, text=True, check=False
        )
        return int(done.stdout)
    url = next(w for w in words if w.startswith("http"))
    headers = dict(words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H")
    data = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w in ("-d", "--data-urlencode"))
    return requests.post(url, headers=headers, data=data, timeout=10).status_code


@pytest.fixture
def kept_demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """`relay demo --keep`, running; killed at the end if the test did not stop it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "relay", "demo", "--keep", "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=relay_env(),
    )
    try:
        yield process, Lines(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


class TestKeep:
    def test_keep_prints_working_curl_commands_and_stops_cleanly_on_sigterm(
        self, kept_demo: tuple[subprocess.Popen[str], Lines]
    ) -> None:
        """--keep prints URLs, tokens and curl lines; a printed post is boosted; SIGTERM: exit 0."""
        process, lines = kept_demo
        lines.wait_for(lambda line: line.startswith("Waiting; new posts appear below."))
        printed = "\n".join(lines.seen)
        for name in ("home", "remote", "third"):
            assert re.search(rf"^  {name}\s+http://127\.0\.0\.1:\d+$", printed, flags=re.M), name
        assert re.search(r"^  alice@127\.0\.0\.1:\d+\s+home\s+therapist\s+\S{20,}$", printed, flags=re.M)
        post = next(line.strip() for line in lines.seen if "Hello again from Alice" in line)
        assert run_printed_curl(post) == 200
        lines.wait_for(lambda line: "Hello again from Alice" in line and "→ boosted (" in line)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
        out = lines.rest()
        assert code == 0, "\n".join(lines.seen) + out
        assert "relay stopped with SIGTERM: exit code 0" in out
        assert "every expectation met (exit 0)" in out


class TestProgress:
    def test_snippet_cuts_long_text_with_an_ellipsis(self) -> None:
        """A post's text is shown on one line, quoted, cut at the width with '…'."""
        assert snippet("Hello,\n  world", 20) == '"Hello, world"'
        assert snippet("a" * 50, 10) == '"' + "a" * 9 + '…"'

    def test_rejections_count_each_rule_once_per_post(self) -> None:
        """A post rejected by two rules counts under both, once each; accepted posts are not counted."""
        now = datetime.now(UTC)

        def facts(decision: str, *reasons: str) -> PostFacts:
            return PostFacts("u", "a@b", "b", "stream", decision, reasons, now)

        posts = [
            facts("reject", "keywords.reject: matched 'crypto'", "limits.same_text: again"),
            facts("reject", "keywords.reject: matched 'crypto'"),
            facts("accept"),
        ]
        assert rejected_by_rule(posts) == [("keywords.reject", 2), ("limits.same_text", 1)]
