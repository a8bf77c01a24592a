"""The soak in small: `bench/soak.py` with a few SIGKILLs of the real `relay run`, every promise kept.

The long run (>= 50 kills) is run by hand and its figures are in bench/README.md. Here the same
engine runs a few kills and a few dozen posts, and the test asserts the promises it checks (no
passing post lost or boosted twice, every approval honoured once, nothing held, failing or deleted
boosted, the cap kept, the relay idle at the end), never how long anything took.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_few_kills_lose_nothing_and_double_nothing(tmp_path: Path) -> None:
    """Four SIGKILLs at random moments among 40 posts, edits, deletes and DM approvals: no promise broken."""
    report = tmp_path / "soak.json"
    small = ["--kills", "4", "--posts", "40", "--seed", "13"]
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
