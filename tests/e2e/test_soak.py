"""The soak in small: `bench/soak.py` with a few SIGKILLs of the real `relay run`, every promise kept.

The long run (>= 50 kills) is run by hand and its figures are in RELIABILITY.md. Here the same
engine runs a few kills and a few dozen posts, and the test asserts the promises it checks (no
passing post lost or boosted twice, every approval honoured once, nothing held, failing or deleted
boosted, the cap kept, the relay idle at the end), never how long anything took.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paths import ROOT

sys.path.insert(0, str(ROOT / "bench"))  # the soak's judge is pure: its promises are tested here too
from soak_oracle import APPROVE, BURST, HOLD, PASS, Observed, Planned, Row, judge, violations


def test_a_few_kills_lose_nothing_and_double_nothing(tmp_path: Path) -> None:
    """Four SIGKILLs at random moments among 40 posts, edits, deletes and DM approvals: no promise broken."""
    report = tmp_path / "soak.json"
    small = ["--kills", "4", "--posts", "40", "--seed", "13", "--settle", "60"]
    done = subprocess.run(
        [sys.executable, "bench/soak.py", *small, "--json", str(report), "--dir", str(tmp_path / "relay")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert report.exists(), done.stdout + done.stderr
    result = json.loads(report.read_text(encoding="utf-8"))
    rows = {row["name"]: row for row in result["rows"]}
    assert result["run"]["kills"] == 4
    assert result["violations"] == 0, done.stdout
    assert result["run"]["unsettled"] == [], done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    covered = ("passing posts boosted exactly once", "held posts not boosted without an approval")
    assert all(rows[name]["total"] > 0 for name in covered), done.stdout


T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def observed(made: dict[str, int], now: set[str], **fields: object) -> Observed:
    """What the instance and the state file would show: `made[uri]` reblogs, `now` still boosted."""
    defaults: dict[str, object] = {
        "reblogs_made": {u: [T0 + timedelta(seconds=i) for i in range(n)] for u, n in made.items()},
        "boosted_now": frozenset(now),
        "approvals_audited": {},
        "queue_states": {},
        "boost_done": frozenset(now),
        "retracted": frozenset(),
        "known_versions": frozenset(),
        "screened": frozenset(),
        "open_intents": 0,
        "unhandled_dms": 0,
        "cap": 3,
    }
    return Observed(**{**defaults, **fields})  # type: ignore[arg-type]


def broken(rows: list[Row]) -> dict[str, list[str]]:
    return {r.name: r.broken for r in rows if r.broken and not r.info}


class TestJudge:
    def test_a_post_boosted_once_keeps_every_promise(self) -> None:
        """A passing post reblogged once and boosted at the end breaks nothing."""
        post = Planned(1, "u1", "l1", "a@x", PASS)
        assert violations(judge([post], observed({"u1": 1}, {"u1"}))) == 0

    def test_twice_and_never_are_both_caught(self) -> None:
        """A post reblogged twice is doubled; one never reblogged is lost."""
        twice, never = Planned(1, "u1", "l1", "a@x", PASS), Planned(2, "u2", "l2", "b@x", PASS)
        found = broken(judge([twice, never], observed({"u1": 2}, {"u1"})))
        assert found["posts reblogged more than once"] == ["u1"]
        assert found["passing posts lost (never boosted)"] == ["u2"]
        assert found["passing posts boosted exactly once"] == ["u1", "u2"]

    def test_held_posts_need_one_approval(self) -> None:
        """A held post boosted without an approval breaks a promise; an approval audited twice too."""
        unasked = Planned(1, "u1", "l1", "a@x", HOLD)
        approved = Planned(2, "u2", "l2", "b@x", HOLD, decision=APPROVE, decided_at=T0)
        found = broken(
            judge(
                [unasked, approved], observed({"u1": 1, "u2": 1}, {"u1", "u2"}, approvals_audited={"u2": 2})
            )
        )
        assert found["held posts not boosted without an approval"] == ["u1"]
        assert found["approvals honoured exactly once"] == ["u2"]

    def test_edited_to_fail_and_deleted_posts_must_not_stay_boosted(self) -> None:
        """Boosted before a failing edit or a delete is fine; at the end, or after the delete, it is not."""
        edited = Planned(1, "u1", "l1", "a@x", PASS, failed_by_edit_at=T0)
        deleted = Planned(2, "u2", "l2", "b@x", PASS, deleted_at=T0 - timedelta(seconds=1))
        found = broken(judge([edited, deleted], observed({"u1": 1, "u2": 1}, {"u1"})))
        assert found["posts edited to fail not boosted at the end"] == ["u1"]
        assert found["deleted posts not boosted after their deletion"] == ["u2"]
        assert violations(judge([edited], observed({"u1": 1}, set()))) == 0

    def test_a_burst_is_boosted_up_to_the_cap(self) -> None:
        """Five posts of one author: exactly three boosted; a fourth breaks the cap."""
        burst = [Planned(i, f"u{i}", f"l{i}", "a@x", BURST) for i in range(5)]
        three = {f"u{i}" for i in range(3)}
        assert violations(judge(burst, observed(dict.fromkeys(three, 1), three))) == 0
        four = {f"u{i}" for i in range(4)}
        found = broken(judge(burst, observed(dict.fromkeys(four, 1), four)))
        assert found["authors within the cap (3 in 24 h)"] == ["a@x"]
        assert found["burst authors boosted up to the cap, none lost"] == ["a@x"]
