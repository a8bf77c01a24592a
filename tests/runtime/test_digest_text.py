"""The weekly digest's words (relay.runtime.digest_text): what it says, who it names, how it splits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from relay.core.digest import DigestFacts, Period
from relay.moderation.notices import status_length
from relay.runtime.digest_text import digest_parts, header, marker

END = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
WEEK = Period(END - timedelta(days=7), END)
TAGS = ("TherapistsConnect",)
HEAD = "#TherapistsConnect weekly digest, 30 Nov – 7 Dec 2026"


class TestWords:
    def test_counts_posts_people_and_servers_naming_no_author(self) -> None:
        """Three posts by two people on two servers: counted, servers listed most first, and no
        author is named or mentioned."""
        facts = DigestFacts(WEEK, boosted_authors=("bob@b.example", "bob@b.example", "ann@a.example"))
        (text,) = digest_parts(facts, TAGS, UTC)
        assert text == (
            "#TherapistsConnect weekly digest, 30 Nov – 7 Dec 2026\n\n"
            "3 posts boosted, from 2 people on 2 servers:\n• b.example (2)\n• a.example (1)"
        )
        assert "@" not in text

    def test_one_of_each_is_singular(self) -> None:
        """1 post, 1 person, 1 server."""
        (text,) = digest_parts(DigestFacts(WEEK, boosted_authors=("ann@a.example",)), TAGS, UTC)
        assert "1 post boosted, from 1 person on 1 server:" in text

    def test_only_new_members_are_mentioned(self) -> None:
        """New members of the directory are welcomed by mention, each on a line."""
        facts = DigestFacts(WEEK, ("ann@a.example",), new_members=("cat@c.example", "dan@d.example"))
        (text,) = digest_parts(facts, TAGS, UTC)
        assert text.endswith("New in the directory, welcome!\n@cat@c.example\n@dan@d.example")
        assert text.count("@") == 4
        members_only = digest_parts(DigestFacts(WEEK, new_members=("cat@c.example",)), TAGS, UTC)
        assert members_only == [f"{HEAD}\n\nNew in the directory, welcome!\n@cat@c.example"]

    def test_nothing_to_say_is_nothing_to_post(self) -> None:
        """No boost and nobody new: no status at all."""
        assert digest_parts(DigestFacts(WEEK), TAGS, UTC) == []

    def test_the_header_shows_local_dates_and_every_hashtag(self) -> None:
        """Dates are the local ones of the zone; a period across a new year names both years."""
        late = Period(datetime(2026, 12, 28, 4, 0, tzinfo=UTC), datetime(2027, 1, 4, 4, 0, tzinfo=UTC))
        facts = DigestFacts(late, ("a@a.example",))
        assert header(
            facts, ("TherapistsConnect", "DeafTherapistsConnect"), ZoneInfo("America/New_York")
        ) == ("#TherapistsConnect #DeafTherapistsConnect weekly digest, 27 Dec 2026 – 3 Jan 2027")


class TestSplitting:
    def test_a_long_digest_is_a_numbered_thread_within_the_limit(self) -> None:
        """Sixty servers do not fit one status: every part fits `max_chars`, starts with the header
        and its number, and together they list every server once, lines whole."""
        authors = tuple(f"user{i}@server-number-{i:02d}.example" for i in range(60))
        parts = digest_parts(DigestFacts(WEEK, authors), TAGS, UTC, max_chars=500)
        assert len(parts) > 1
        for number, part in enumerate(parts, start=1):
            assert status_length(part) <= 500
            assert (
                marker(part)
                == f"#TherapistsConnect weekly digest, 30 Nov – 7 Dec 2026 ({number}/{len(parts)})"
            )
        listed = [line for part in parts for line in part.split("\n") if line.startswith("• ")]
        assert listed == [f"• server-number-{i:02d}.example (1)" for i in range(60)]

    def test_a_higher_limit_needs_fewer_parts(self) -> None:
        """The instance's own max_characters is used: 5000 fits what 500 cannot."""
        authors = tuple(f"user{i}@server-number-{i:02d}.example" for i in range(60))
        assert len(digest_parts(DigestFacts(WEEK, authors), TAGS, UTC, max_chars=5000)) == 1

    def test_markers_differ_between_parts_and_weeks(self) -> None:
        """Each part's first line names its period and number, so no two are taken for each other."""
        authors = tuple(f"user{i}@server-number-{i:02d}.example" for i in range(60))
        this_week = digest_parts(DigestFacts(WEEK, authors), TAGS, UTC)
        next_week = digest_parts(DigestFacts(Period(END, END + timedelta(days=7)), authors), TAGS, UTC)
        markers = [marker(p) for p in this_week + next_week]
        assert len(set(markers)) == len(markers)
