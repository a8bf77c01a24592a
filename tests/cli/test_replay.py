"""`relay replay`: screening a file of statuses offline, as a real process and in-process."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from paths import ROOT
from statusgen import cassette_bodies, generate, hoot, quote_status, quoted_status, write_json_lines

from relay.cli.replay import read_statuses, replay, summarise
from relay.config.rules import default_rules
from relay.errors import InputError


def run_replay(
    *args: str | Path, command: tuple[str, ...] = ("relay", "replay")
) -> subprocess.CompletedProcess[str]:
    """Run `relay replay ARGS` (as `python -m relay replay`) in a separate process."""
    return subprocess.run(
        [sys.executable, "-m", *command, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JSON-lines file of 1,200 varied statuses (deterministic)."""
    return write_json_lines(tmp_path_factory.mktemp("replay") / "statuses.jsonl", generate(1200))


def at(minutes: int, **changes: Any) -> dict[str, Any]:
    """The real #hoot status, `minutes` after 2026-08-01, with a unique uri and `changes`."""
    data = hoot()
    created = datetime(2026, 8, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    data.update(
        id=str(minutes),
        uri=f"http://localhost:3000/statuses/{minutes}",
        created_at=created.isoformat().replace("+00:00", "Z"),
        content=f"<p>post number {minutes} #hoot</p>",
    )
    data.update(changes)
    return data


class TestProcess:
    def test_table_and_summary_for_a_thousand_statuses(self, generated: Path) -> None:
        """Replaying 1,200 generated statuses prints one row per post and a summary, and exits 0."""
        config = generated.parent / "relay.toml"
        config.write_text(
            'hashtags = ["TherapistsConnect"]\n[home]\nurl = "https://therapists.example"\n'
            '[moderation]\nmode = "open"\n[rules.blocks]\ndomains = ["spam.example"]\n',
            encoding="utf-8",
        )
        done = run_replay(generated, "--config", config)
        assert done.returncode == 0, done.stderr
        table, _, summary = done.stdout.partition("\n\n")
        rows = table.splitlines()
        assert rows[0].split() == ["VERDICT", "AUTHOR", "REASONS"]
        assert len(rows) - 1 == 1200
        assert {row.split()[0] for row in rows[1:]} == {"accept", "hold", "reject"}
        assert summary.startswith("1200 posts\n")
        counts = dict(line.split() for line in summary.splitlines()[1:4])
        assert sum(map(int, counts.values())) == 1200
        for rule in (
            "visibility",
            "hashtags",
            "replies",
            "boost",
            "bots",
            "consent.refuse_tags",
            "limits.max_links",
            "limits.max_hashtags",
            "limits.max_mentions",
            "limits.same_text",
            "limits.max_boosts_per_author_24h",
            "blocks.domains",
            "quotes",
            "quotes.state",
            "quotes.consent.refuse_tags",
        ):
            assert f"\n  {rule} " in summary, rule

    def test_json_output(self, generated: Path) -> None:
        """--json prints one object per post and then the summary, consistent with each other."""
        done = run_replay(generated, "--hashtag", "TherapistsConnect", "--json")
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        posts, summary = lines[:-1], lines[-1]["summary"]
        assert len(posts) == summary["posts"] == 1200
        assert set(posts[0]) == {"uri", "url", "author", "decision", "reasons"}
        for decision, count in summary["by_verdict"].items():
            assert sum(p["decision"] == decision for p in posts) == count
        assert summary["by_verdict"]["accept"] == 0  # review mode by default: nothing is accepted untrusted

    def test_real_timeline_array(self, tmp_path: Path) -> None:
        """A JSON array as the real tag timeline returned it is read and screened."""
        path = tmp_path / "timeline.json"
        path.write_text(json.dumps(cassette_bodies("hashtag_tl.yaml")[2]), encoding="utf-8")
        done = run_replay(path, "--hashtag", "hoot", "--mode", "open")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[1].split() == ["accept", "mastodonpy_test_2@localhost:3000", "-"]

    def test_malformed_json_line_exits_2_with_line_number(self, tmp_path: Path) -> None:
        """A broken JSON line exits 2 and names the file and the line."""
        path = tmp_path / "broken.jsonl"
        path.write_text(json.dumps(hoot()) + "\n\n" + '{"id": 1,\n', encoding="utf-8")
        done = run_replay(path, "--hashtag", "hoot")
        assert done.returncode == 2
        assert f"{path}:3:" in done.stderr
        assert "not valid JSON" in done.stderr

    def test_malformed_status_exits_2_naming_line_and_field(self, tmp_path: Path) -> None:
        """A JSON line that is no status (missing uri) exits 2 naming the line and the field."""
        broken = hoot()
        del broken["uri"]
        path = write_json_lines(tmp_path / "s.jsonl", [hoot(), broken])
        done = run_replay(path, "--hashtag", "hoot")
        assert done.returncode == 2
        assert f"{path}:2: status is missing field 'uri'" in done.stderr

    def test_malformed_array_exits_2_with_position(self, tmp_path: Path) -> None:
        """A broken JSON array exits 2 naming the line and column of the error."""
        path = tmp_path / "broken.json"
        path.write_text('[\n  {"id": "1"},\n  {"id": }\n]\n', encoding="utf-8")
        done = run_replay(path, "--hashtag", "hoot")
        assert done.returncode == 2
        assert f"{path}:3:10: not valid JSON" in done.stderr

    def test_needs_hashtags_or_config(self, generated: Path) -> None:
        """Without --config or --hashtag replay refuses with exit 2 and says what to pass."""
        done = run_replay(generated)
        assert done.returncode == 2
        assert "--hashtag" in done.stderr

    def test_standalone_module_entry(self, tmp_path: Path) -> None:
        """`python -m relay.cli.replay` runs the same command on its own, with the same exit codes."""
        path = write_json_lines(tmp_path / "s.jsonl", [hoot()])
        done = run_replay(path, "--hashtag", "hoot", command=("relay.cli.replay",))
        assert done.returncode == 0, done.stderr
        assert "1 posts" in done.stdout
        (tmp_path / "bad.jsonl").write_text("{", encoding="utf-8")
        done = run_replay(tmp_path / "bad.jsonl", "--hashtag", "hoot", command=("relay.cli.replay",))
        assert done.returncode == 2
        assert "bad.jsonl:1:" in done.stderr

    def test_missing_file(self, tmp_path: Path) -> None:
        """A file that does not exist exits 2."""
        done = run_replay(tmp_path / "nope.jsonl", "--hashtag", "hoot")
        assert done.returncode == 2
        assert "no such file" in done.stderr

    def test_rules_from_config(self, tmp_path: Path) -> None:
        """With --config the [rules] of relay.toml apply (here: a reject keyword)."""
        config = tmp_path / "relay.toml"
        config.write_text(
            'hashtags = ["hoot"]\n[home]\nurl = "https://therapists.example"\n'
            '[moderation]\nmode = "open"\n[rules.keywords]\nreject = ["number 2"]\n',
            encoding="utf-8",
        )
        path = write_json_lines(tmp_path / "s.jsonl", [at(1), at(2)])
        done = run_replay(path, "-c", config, "--json")
        assert done.returncode == 0, done.stderr
        decisions = [json.loads(line).get("decision") for line in done.stdout.splitlines()[:-1]]
        assert decisions == ["accept", "reject"]


class TestInProcess:
    def test_same_text_from_same_author(self, tmp_path: Path) -> None:
        """The same text again from the same author is caught; from another author it is not."""
        other = copy.deepcopy(hoot()["account"])
        other["acct"] = "someone@else.example"
        same = {"content": "<p>hello #hoot</p>"}
        path = write_json_lines(
            tmp_path / "s.jsonl", [at(1, **same), at(2, **same), at(3, **same, account=other)]
        )
        rows = replay(path, default_rules(["hoot"], mode="open"))
        assert [[r.rule for r in row.verdict.reasons] for row in rows] == [[], ["limits.same_text"], []]

    def test_boosts_per_author_in_24_hours(self, tmp_path: Path) -> None:
        """The sixth accepted post of an author within 24 hours is rejected; a day later posts pass again."""
        statuses = [at(minute) for minute in (0, 10, 20, 30, 40, 50, 60, 24 * 60 + 5)]
        rows = replay(write_json_lines(tmp_path / "s.jsonl", statuses), default_rules(["hoot"], mode="open"))
        assert [row.verdict.decision.value for row in rows] == ["accept"] * 5 + ["reject", "reject", "accept"]

    def test_a_quote_of_an_author_who_refuses_is_refused_with_its_reason(self, tmp_path: Path) -> None:
        """Replay screens a quote with what it quotes: a quote of a #nobot author is rejected
        (replay knows an author's consent from the bio; opt-outs by DM live in the state file)."""
        nobot = quote_status(quoted_status(note="<p>Please no #nobot</p>"))
        kind = dict(quoted_status(text="kind words"), uri="https://elsewhere.example/users/quoted/statuses/2")
        clean = dict(quote_status(kind), uri="http://localhost:3000/statuses/q2")
        rows = replay(
            write_json_lines(tmp_path / "q.jsonl", [nobot, clean]), default_rules(["hoot"], mode="open")
        )
        assert [row.verdict.decision.value for row in rows] == ["reject", "hold"]
        reason = rows[0].verdict.reasons[0]
        assert reason.rule == "quotes.consent.refuse_tags"
        assert (
            reason.detail == "the quoted post by quoted@elsewhere.example: the author's profile says #nobot"
        )

    def test_duplicate_uri_is_screened_once(self, tmp_path: Path) -> None:
        """A post seen twice (same uri) is screened once, as dedupe would do."""
        rows = replay(write_json_lines(tmp_path / "s.jsonl", [at(1), at(1)]), default_rules(["hoot"]))
        assert len(rows) == 1

    def test_summary_counts_each_rule_once_per_post(self, tmp_path: Path) -> None:
        """The summary counts posts per verdict and per rule."""
        path = write_json_lines(tmp_path / "s.jsonl", [at(1, visibility="direct"), at(2)])
        summary = summarise(replay(path, default_rules(["hoot"])))
        assert summary == {
            "posts": 2,
            "by_verdict": {"accept": 0, "hold": 1, "reject": 1},
            "by_reason": {"mode": 1, "visibility": 1},
        }

    def test_non_object_item(self, tmp_path: Path) -> None:
        """An array item that is not an object is an InputError naming its index."""
        path = tmp_path / "s.json"
        path.write_text("[1]", encoding="utf-8")
        with pytest.raises(InputError, match="item 0: a status must be a JSON object"):
            list(read_statuses(path))
