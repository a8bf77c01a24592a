"""Where the tests find things: the repository, the test data, the recorded Mastodon fixtures.

One place, so that a test file can live at any depth under `tests/` (the tree mirrors `relay/`).
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent  # the repository
DATA = TESTS / "data"
# Real HTTP and streaming interactions recorded from Mastodon 4.6.4, next to the repository.
FIXTURES = ROOT.parent / "shared" / "fixtures" / "mastodon-4.6"
