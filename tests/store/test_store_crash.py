"""Crash safety of the boost journal: a real process killed with SIGKILL mid-boost."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from relay.store.store import Store

URI = "https://a.example/users/alice/statuses/1"

# Writes the journal up to `stop_after`, says so on stdout, then waits to be killed.
CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from relay.core.dedupe import Arrival
    from relay.store.store import Store

    path, stop_after, uri = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    store = Store.open(path)
    store.posts.record_arrival(uri, Arrival.SCREEN, source="home", acct="alice@a.example", url=None,
                  edited_at=None, text_fingerprint="fp")
    store.boosts.boost_intent(uri, "1001")
    if stop_after == "done":
        store.boosts.boost_done(uri, "2002")
    print(stop_after, flush=True)
    sys.stdin.read()  # the call to the server would be here; wait for SIGKILL
    """
)


def run_and_kill(path: Path, stop_after: str) -> None:
    """Run the child until it reports `stop_after`, then SIGKILL it (no cleanup runs)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), stop_after, URI],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 60
            while not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                if time.monotonic() >= deadline or child.poll() is not None:
                    break
        line = child.stdout.readline().strip() if child.poll() is None else ""
        assert line == stop_after, child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("stop_after", ["intent", "done"])
def test_killed_process_leaves_an_honest_journal(tmp_path: Path, stop_after: str) -> None:
    """Killed after the intent: it is unfinished on reopen; killed after done: it is boosted."""
    path = tmp_path / "state.db"
    run_and_kill(path, stop_after)
    with Store.open(path) as store:
        unfinished = store.boosts.unfinished_intents()
        if stop_after == "intent":
            assert [(e.uri, e.kind, e.local_id) for e in unfinished] == [(URI, "boost", "1001")]
            assert not store.boosts.is_boosted(URI)
            store.boosts.boost_done(URI, "2002")  # reconciled: the status says `reblogged`
        assert store.boosts.unfinished_intents() == []
        assert store.boosts.is_boosted(URI)
