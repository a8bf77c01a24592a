"""Mastodon status JSON (and Mastodon's tag RSS) into frozen Posts."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statusgen import generate, hoot, real_statuses, status

from relay.core.dm import DirectMessage
from relay.core.mastodon_json import (
    PROFILE_CACHE_SIZE,
    MalformedStatus,
    get_datetime,
    get_field,
    get_optional,
    get_optional_id,
    get_visibility,
    read_profile,
    source_domain,
)
from relay.core.post import Media, Post, text_fingerprint
from relay.core.tags import fold_text


class TestFromStatus:
    def test_every_real_status_parses(self) -> None:
        """Every recorded Mastodon 4.6 status becomes a Post keyed by uri, with a full acct."""
        posts = [Post.from_status(s, source="localhost:3000") for s in real_statuses()]
        assert len(posts) >= 30
        assert all(p.key.startswith("http://localhost:3000/ap/users/") for p in posts)
        assert all(p.author.acct.endswith("@localhost:3000") for p in posts)
        assert {p.visibility for p in posts} == {"public", "unlisted", "private", "direct"}

    def test_hashtag_status_fields(self) -> None:
        """The real #hoot status keeps its uri, url, ids, dates, language, text and tags."""
        post = Post.from_status(hoot(), source="http://localhost:3000")
        assert post.uri == "http://localhost:3000/ap/users/117020566092212359/statuses/117020593741189701"
        assert post.id == "117020593741189701"
        assert post.url == "http://localhost:3000/@mastodonpy_test_2/117020593741189701"
        assert post.created_at == datetime(2026, 8, 1, 13, 55, 55, 867000, tzinfo=UTC)
        assert (post.visibility, post.language, post.sensitive) == ("public", "ja", False)
        assert post.text == "#hoot (hashtag toot)"
        assert post.tags == {"hoot"}
        assert post.tags_from == "api"
        assert (post.mentions, post.links, post.media) == (0, 0, ())
        assert post.complete
        assert not post.came_as_boost
        assert not post.is_reply

    def test_author_fields(self) -> None:
        """The author's acct gets the instance domain; bio, fields, flags, dates and counts are kept."""
        post = Post.from_status(status("status_post_direct.yaml", 0), source="localhost:3000")
        author = post.author
        assert author.acct == "mastodonpy_test@localhost:3000"
        assert author.display_name == "John Lennon"
        assert author.note_text == "I walk funny"
        assert author.fields == (("bread", "toasty."), ("lasagna", "no!!!"))
        assert (author.bot, author.group, author.locked) == (False, False, True)
        assert author.created_at == datetime(2026, 8, 1, tzinfo=UTC)
        assert author.statuses_count == 12
        assert (author.indexable, author.noindex) == (True, False)
        assert author.uri == "http://localhost:3000/ap/users/117020565966271181"

    def test_local_acct_from_account_url_without_source(self) -> None:
        """Without a source domain, a local account takes the host of its profile URL."""
        assert Post.from_status(hoot(), source="").author.acct == "mastodonpy_test_2@localhost:3000"

    def test_remote_acct_is_kept(self) -> None:
        """A remote account's acct already has its domain and keeps it, lower-cased."""
        data = hoot()
        data["account"]["acct"] = "Alice@Therapists.Social"
        assert Post.from_status(data, source="localhost:3000").author.acct == "Alice@therapists.social"

    def test_boost_is_unwrapped(self) -> None:
        """A real reblog becomes its original post, flagged with the booster."""
        post = Post.from_status(status("status_reblog_unreblog.yaml", 1), source="localhost:3000")
        assert post.uri == "http://localhost:3000/ap/users/117020565966271181/statuses/117020586019094258"
        assert post.text == "Toot!"
        assert post.came_as_boost
        assert post.boosted_by is not None
        assert post.boosted_by.acct == "mastodonpy_test@localhost:3000"

    def test_reply_fields(self) -> None:
        """A real reply keeps in_reply_to ids and counts its mention."""
        post = Post.from_status(status("status_reply.yaml", 2), source="localhost:3000")
        assert post.in_reply_to_id == "117020583245459824"
        assert post.in_reply_to_account_id == "117020566092212359"
        assert post.is_reply
        assert post.mentions == 1
        assert post.links == 0

    def test_edited_status(self) -> None:
        """A real edited status carries edited_at."""
        post = Post.from_status(status("status_edit.yaml", 3), source="localhost:3000")
        assert post.edited_at == datetime(2026, 8, 1, 13, 54, 0, 695000, tzinfo=UTC)

    def test_tags_fall_back_to_html_only_without_tags_field(self) -> None:
        """Without a `tags` field the HTML gives the tags; an empty `tags` list is believed."""
        data = hoot()
        del data["tags"]
        fallback = Post.from_status(data, source="localhost:3000")
        assert (fallback.tags, fallback.tags_from) == ({"hoot"}, "html")
        data["tags"] = []
        assert Post.from_status(data, source="localhost:3000").tags == frozenset()

    def test_api_tags_are_normalised(self) -> None:
        """Tag names from the API are normalised the way Mastodon does."""
        data = hoot()
        data["tags"] = [{"name": "TherapistsConnect", "url": "x"}, {"name": "Café", "url": "y"}]
        assert Post.from_status(data, source="localhost:3000").tags == {"therapistsconnect", "cafe"}

    def test_media_alt_text(self) -> None:
        """Attachments keep their type and whether they have alt text."""
        data = hoot()
        data["media_attachments"] = [
            {"type": "image", "url": "https://m/1.png", "description": "a cat"},
            {"type": "video", "url": "https://m/2.mp4", "description": None},
            {"type": "image", "url": "https://m/3.png", "description": "  "},
        ]
        media = Post.from_status(data, source="localhost:3000").media
        assert [(m.type, m.has_alt) for m in media] == [("image", True), ("video", False), ("image", False)]

    def test_profile_tags_from_bio_and_fields(self) -> None:
        """Hashtags in the bio (linked or plain) and in profile fields are collected for consent rules."""
        data = hoot()
        data["account"]["note"] = (
            '<p>Therapist <a class="mention hashtag" rel="tag" href="/tags/NoBot">#<span>NoBot</span></a></p>'
        )
        data["account"]["fields"] = [{"name": "bots", "value": "#noboost please", "verified_at": None}]
        tags = Post.from_status(data, source="localhost:3000").author.profile_tags
        assert tags == {"nobot", "noboost"}

    def test_content_warning_in_match_text(self) -> None:
        """The content warning comes first in the text rules match on."""
        data = hoot()
        data["spoiler_text"] = "CW: grief"
        assert Post.from_status(data, source="localhost:3000").match_text == "CW: grief\n#hoot (hashtag toot)"

    def test_post_is_frozen(self) -> None:
        """A Post cannot be changed after it is made."""
        post = Post.from_status(hoot(), source="localhost:3000")
        with pytest.raises(dataclasses.FrozenInstanceError):
            post.uri = "x"  # type: ignore[misc]

    def test_delete_response_with_source_text(self) -> None:
        """A DELETE response (source `text`, no `content`) still parses, with that text."""
        post = Post.from_status(status("hashtag_tl.yaml", 3), source="localhost:3000")
        assert post.text == "#hoot (hashtag toot)"
        assert post.tags == {"hoot"}


class TestProfileCache:
    """The bio and profile fields are read once per distinct text (`read_profile`, a bounded cache)."""

    def test_same_account_again_is_a_cache_hit(self) -> None:
        """The same account JSON read again (another post, another instance) reuses the profile."""
        data = hoot()
        data["account"]["note"] = "<p>Therapist in #Lisbon, unique bio 1f3a</p>"
        first = Post.from_status(data, source="localhost:3000").author
        hits = read_profile.cache_info().hits
        again = Post.from_status(data, source="other.example").author
        assert read_profile.cache_info().hits == hits + 1
        assert (again.note_text, again.fields, again.profile_tags) == (
            first.note_text,
            first.fields,
            first.profile_tags,
        )
        assert again.profile_tags == {"lisbon"}

    def test_changed_note_and_fields_are_read_anew(self) -> None:
        """An author who edits the bio or a field (adding #nobot) is read with the new text."""
        data = hoot()
        data["account"]["note"] = "<p>Therapist, bio 7c21</p>"
        data["account"]["fields"] = [{"name": "pronouns", "value": "they/them"}]
        before = Post.from_status(data, source="localhost:3000").author
        data["account"]["note"] = "<p>Therapist, bio 7c21 #NoBot</p>"
        after_note = Post.from_status(data, source="localhost:3000").author
        data["account"]["fields"] = [{"name": "pronouns", "value": "they/them #noboost"}]
        after_field = Post.from_status(data, source="localhost:3000").author
        assert (before.note_text, before.profile_tags) == ("Therapist, bio 7c21", frozenset())
        assert (after_note.note_text, after_note.profile_tags) == ("Therapist, bio 7c21 #NoBot", {"nobot"})
        assert after_field.fields == (("pronouns", "they/them #noboost"),)
        assert after_field.profile_tags == {"nobot", "noboost"}

    def test_bounded(self) -> None:
        """However many distinct profiles arrive, at most PROFILE_CACHE_SIZE are kept."""
        for i in range(PROFILE_CACHE_SIZE + 50):
            read_profile(f"<p>bio number {i} of many</p>", ())
        info = read_profile.cache_info()
        assert info.maxsize == PROFILE_CACHE_SIZE
        assert info.currsize == PROFILE_CACHE_SIZE
        assert read_profile("<p>bio number 3 of many</p>", ()).note_text == "bio number 3 of many"

    def test_malformed_fields_still_refused(self) -> None:
        """A field that is not an object is refused before any cache lookup, as before."""
        data = hoot()
        data["account"]["fields"] = ["not an object"]
        with pytest.raises(MalformedStatus, match="account field 'fields' must be a list of objects"):
            Post.from_status(data, source="localhost:3000")


class TestMalformed:
    @pytest.mark.parametrize("field", ["uri", "id", "created_at", "visibility", "account", "content"])
    def test_missing_field_is_named(self, field: str) -> None:
        """A status without a required field raises MalformedStatus naming it."""
        data = hoot()
        del data[field]
        with pytest.raises(MalformedStatus, match=repr(field)):
            Post.from_status(data, source="localhost:3000")

    @pytest.mark.parametrize("visibility", ["limited", "Public", ""])
    def test_a_visibility_outside_the_four_is_refused_by_posts_and_messages(self, visibility: str) -> None:
        """A status and a DM read `visibility` by one rule (`get_visibility`): only Mastodon's four."""
        data = {**hoot(), "visibility": visibility}
        with pytest.raises(MalformedStatus, match="not one of"):
            Post.from_status(data, source="localhost:3000")
        with pytest.raises(MalformedStatus, match="not one of"):
            DirectMessage.from_status(data, home="localhost:3000")
        assert get_visibility({"visibility": "direct"}) == "direct"

    def test_missing_acct_is_named(self) -> None:
        """An account without acct raises MalformedStatus naming the account field."""
        data = hoot()
        del data["account"]["acct"]
        with pytest.raises(MalformedStatus, match="account is missing field 'acct'"):
            Post.from_status(data, source="localhost:3000")

    @pytest.mark.parametrize(
        ("field", "value"),
        [("visibility", "secret"), ("created_at", "yesterday"), ("tags", "hoot"), ("sensitive", "yes")],
    )
    def test_bad_values(self, field: str, value: object) -> None:
        """Wrong types and values raise MalformedStatus naming the field; it is a ValueError."""
        data = hoot()
        data[field] = value
        with pytest.raises(ValueError, match=field):
            Post.from_status(data, source="localhost:3000")

    def test_not_an_object(self) -> None:
        """A JSON list where a status should be is refused."""
        with pytest.raises(MalformedStatus, match="JSON object"):
            Post.from_status([], source="x")  # type: ignore[arg-type]


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:webfeeds="http://webfeeds.org/rss/1.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>#therapistsconnect</title><link>https://therapists.social/tags/therapistsconnect</link>
<item>
  <guid isPermaLink="true">https://therapists.social/@ana/113</guid>
  <link>https://therapists.social/@ana/113</link>
  <pubDate>Sat, 01 Aug 2026 13:55:55 +0000</pubDate>
  <description>&lt;p&gt;Hello &lt;a href="https://therapists.social/tags/TherapistsConnect"
    class="mention hashtag" rel="tag"&gt;#&lt;span&gt;TherapistsConnect&lt;/span&gt;&lt;/a&gt;&lt;/p&gt;
  </description>
  <media:content url="https://therapists.social/m/1.png" type="image/png" fileSize="10" medium="image">
    <media:rating scheme="urn:simple">adult</media:rating>
    <media:description type="plain">a chair</media:description>
  </media:content>
  <category>TherapistsConnect</category>
  <category>intro</category>
</item>
<item>
  <link>https://therapists.social/@bo@elsewhere.example/7</link>
  <pubDate>Sat, 01 Aug 2026 14:00:00 +0000</pubDate>
  <description>&lt;p&gt;remote&lt;/p&gt;</description>
</item>
</channel></rss>"""


class TestFromRss:
    def test_mastodon_tag_feed_item(self) -> None:
        """An item of Mastodon's tag RSS becomes an incomplete public Post with author, tags and media."""
        entry = feedparser.parse(RSS).entries[0]
        post = Post.from_rss_entry(entry, source="therapists.social")
        assert post.uri == post.url == "https://therapists.social/@ana/113"
        assert post.author.acct == "ana@therapists.social"
        assert post.created_at == datetime(2026, 8, 1, 13, 55, 55, tzinfo=UTC)
        assert post.tags == {"therapistsconnect", "intro"}
        assert post.tags_from == "rss"
        assert post.text == "Hello #TherapistsConnect"
        assert post.sensitive
        assert post.media == (Media("image", "https://therapists.social/m/1.png", "a chair"),)
        assert post.visibility == "public"
        assert not post.complete

    def test_remote_author_in_url(self) -> None:
        """A remote post's URL on the feed's instance names the remote account; tags fall back to HTML."""
        entry = feedparser.parse(RSS).entries[1]
        post = Post.from_rss_entry(entry, source="therapists.social")
        assert post.author.acct == "bo@elsewhere.example"
        assert post.tags == frozenset()

    @pytest.mark.parametrize(
        ("link", "acct"),
        [
            ("https://a.example/@ana/1", "ana@a.example"),
            ("https://a.example/@ana@b.example/1", "ana@b.example"),
            ("https://b.example/users/ana/statuses/1", "ana@b.example"),
            ("https://c.example/notes/9x", "unknown@c.example"),
        ],
    )
    def test_author_from_url_shapes(self, link: str, acct: str) -> None:
        """The author comes from the post URL's shape; an unknown shape leaves the user unknown."""
        entry = {"link": link, "published": "Sat, 01 Aug 2026 13:55:55 +0000", "summary": "<p>x</p>"}
        assert Post.from_rss_entry(entry, source="a.example").author.acct == acct

    def test_alt_texts_paired_only_when_all_present(self) -> None:
        """Alt texts are paired with media only when each attachment has one; otherwise none is trusted."""
        entry: dict[str, object] = {
            "link": "https://a.example/@ana/1",
            "published": "Sat, 01 Aug 2026 13:55:55 +0000",
            "media_content": [{"url": "u1", "medium": "image"}, {"url": "u2", "medium": "image"}],
            "content": [{"type": "text/plain", "value": "only one"}],
        }
        assert [m.has_alt for m in Post.from_rss_entry(entry, source="a.example").media] == [False, False]
        entry["content"] = [{"type": "text/plain", "value": "one"}, {"type": "text/plain", "value": "two"}]
        media = Post.from_rss_entry(entry, source="a.example").media
        assert [m.description for m in media] == ["one", "two"]

    @pytest.mark.parametrize(
        ("published", "created"),
        [
            ("Sat, 01 Aug 2026 13:55:55 -0000", datetime(2026, 8, 1, 13, 55, 55, tzinfo=UTC)),
            ("Sat, 01 Aug 2026 15:55:55 +0200", datetime(2026, 8, 1, 13, 55, 55, tzinfo=UTC)),
        ],
    )
    def test_item_date_without_a_zone_is_utc(self, published: str, created: datetime) -> None:
        """An RFC 822 date naming no zone ("-0000") is UTC, by the one time rule; an offset counts."""
        entry = {"link": "https://a.example/@ana/1", "published": published}
        post = Post.from_rss_entry(entry, source="a.example")
        assert post.created_at == created
        assert post.created_at.tzinfo is not None

    @pytest.mark.parametrize("published", ["yesterday", ""])
    def test_item_date_that_is_no_date(self, published: str) -> None:
        """An RSS item whose date is not an RFC 822 date is malformed, and the error quotes it."""
        with pytest.raises(MalformedStatus, match="not an RFC 822 date"):
            Post.from_rss_entry(
                {"link": "https://a.example/@ana/1", "published": published}, source="a.example"
            )

    def test_item_without_link(self) -> None:
        """An RSS item without a link is malformed."""
        with pytest.raises(MalformedStatus, match="link"):
            Post.from_rss_entry({"published": "Sat, 01 Aug 2026 13:55:55 +0000"}, source="x.example")


class TestHelpers:
    def test_source_domain(self) -> None:
        """A source is a host or a URL; its host (with port) is the domain for local accounts."""
        assert source_domain("https://Therapists.Social/") == "therapists.social"
        assert source_domain("localhost:3000") == "localhost:3000"
        assert source_domain("stream of x") == ""

    def test_fingerprint_ignores_case_accents_spacing_and_mentions(self) -> None:
        """The same words with other case, accents, spacing or mentions have the same fingerprint."""
        a = text_fingerprint("@bo Hello   Café #TherapistsConnect")
        b = text_fingerprint("hello cafe\n#therapistsconnect @someone@else.example")
        assert a == b
        assert a != text_fingerprint("hello tea #therapistsconnect")


class TestFoldedText:
    """A Post folds its text once, for the fingerprint and the keyword rules."""

    def test_recorded_posts_fold_and_fingerprint_as_their_text(self) -> None:
        """On every recorded and generated status, the folded text and the fingerprint are those of
        `match_text`, as `text_fingerprint` was first written."""
        for data in real_statuses() + generate(300):
            post = Post.from_status(data, source="localhost:3000")
            if post.quote is not None and post.quote.quoted is not None:  # counts what it quotes
                assert post.text_fingerprint != text_fingerprint(post.match_text)
                continue
            words = re.findall(r"[@\w][\w.@-]*", fold_text(post.match_text))
            kept = " ".join(w for w in words if not w.startswith("@"))
            assert post.text_fingerprint == hashlib.sha256(kept.encode("utf-8")).hexdigest()[:32]
            assert post.folded_text == fold_text(post.match_text)
            assert post.text_fingerprint == text_fingerprint(post.match_text)

    def test_replace_folds_the_new_text(self) -> None:
        """`dataclasses.replace` makes a post that folds its own text, not the original's."""
        post = Post.from_status(hoot(), source="localhost:3000")
        assert post.folded_text == "#hoot (hashtag toot)"
        changed = dataclasses.replace(post, text="Free MONEY", spoiler_text="Café")
        assert changed.folded_text == "cafe\nfree money"
        assert changed.text_fingerprint == text_fingerprint("Café\nFree MONEY")

    def test_the_cache_is_no_part_of_the_post(self) -> None:
        """A post whose text was folded equals, hashes and prints as one whose text was not."""
        folded = Post.from_status(hoot(), source="localhost:3000")
        assert folded.folded_text
        fresh = Post.from_status(hoot(), source="localhost:3000")
        assert folded == fresh
        assert hash(folded) == hash(fresh)
        assert repr(folded) == repr(fresh)
        with pytest.raises(dataclasses.FrozenInstanceError):
            folded._folded_text = "x"  # type: ignore[misc]
        with pytest.raises(TypeError):
            Post(
                **{
                    **{f.name: getattr(fresh, f.name) for f in dataclasses.fields(Post) if f.init},
                    "_folded_text": "x",
                }
            )


# The field readers as first written: what their fast paths must give, value and error alike.
def get_field_checked(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in data or data[name] is None:
        raise MalformedStatus(f"status is missing field {name!r}")
    value = data[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MalformedStatus(f"status field {name!r} has the wrong type ({type(value).__name__})")
    return value


def get_optional_checked(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    return None if data.get(name) is None else get_field_checked(data, name, kind)


def get_optional_id_checked(data: Mapping[str, Any], name: str) -> str | None:
    value = get_optional_checked(data, name, (str, int))
    return None if value is None else str(value)


def get_datetime_checked(data: Mapping[str, Any], name: str, required: bool) -> datetime | None:
    value = get_field_checked(data, name, str) if required else get_optional_checked(data, name, str)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedStatus(f"status field {name!r} is not an ISO 8601 date: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Text(str):
    """A str subclass: accepted where a str is, but not the exact type the fast paths look for."""


def outcome(read: Callable[..., object], *args: Any, **kwargs: Any) -> tuple[object, ...]:
    """What `read(*args, **kwargs)` gives: ("value", its type, it) or ("error", the message)."""
    try:
        value = read(*args, **kwargs)
    except MalformedStatus as exc:
        return ("error", str(exc))
    return ("value", type(value), value)


json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=4),
    st.text(max_size=4).map(Text),
    st.sampled_from(["2026-08-01T00:00:00.000Z", "2026-08-01T10:00:00", "2026-08-01", "today", ""]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
KINDS: tuple[type | tuple[type, ...], ...] = (str, int, bool, list, Mapping, (str, int))


class TestFieldReaders:
    @settings(max_examples=500)
    @given(st.dictionaries(st.sampled_from(["a", "b"]), json_values), st.sampled_from(KINDS))
    def test_readers_as_first_written(self, data: dict[str, Any], kind: type | tuple[type, ...]) -> None:
        """Every reader gives the value (of the same type) or the error that it gave first written."""
        assert outcome(get_field, data, "a", kind) == outcome(get_field_checked, data, "a", kind)
        if not isinstance(kind, tuple):
            assert outcome(get_optional, data, "a", kind) == outcome(get_optional_checked, data, "a", kind)
        assert outcome(get_optional_id, data, "a") == outcome(get_optional_id_checked, data, "a")
        for required in (False, True):
            expected = outcome(get_datetime_checked, data, "a", required)
            assert outcome(get_datetime, data, "a", required=required) == expected
