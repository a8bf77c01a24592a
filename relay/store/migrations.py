"""The SQLite schema as numbered migrations, tracked with `PRAGMA user_version`.

`MIGRATIONS[n - 1]` takes a database from schema version `n - 1` to `n`. Append new scripts at the
end; never edit one that has shipped. `apply()` runs each pending script in its own transaction
together with the `user_version` bump, so a crash mid-migration leaves the previous version intact.

Times are ISO-8601 text in UTC with microseconds (`2026-01-02T03:04:05.000006+00:00`): fixed width,
so text order is time order. Account handles (`acct`) and domains are stored lower case.
"""

from __future__ import annotations

import sqlite3

_V1_POSTS_QUEUE_JOURNAL_AUDIT = """
CREATE TABLE posts (
    uri              TEXT PRIMARY KEY,          -- the ActivityPub id: the dedupe key
    acct             TEXT,                      -- user@domain, lower case (NULL for a bare tombstone)
    domain           TEXT,                      -- the part of acct after '@'
    url              TEXT,
    first_source     TEXT,
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL,
    edited_at        TEXT,                      -- the newest version seen (Mastodon's edited_at)
    text_fingerprint TEXT,
    decision         TEXT,                      -- last verdict: accept | hold | reject
    reasons          TEXT,                      -- last verdict's reasons as a JSON list
    screened_count   INTEGER NOT NULL DEFAULT 0,
    screened_at      TEXT,
    retracted_at     TEXT,                      -- set once the post was deleted: never boost again
    retract_reason   TEXT
) STRICT;
CREATE INDEX posts_acct ON posts (acct, text_fingerprint);
CREATE INDEX posts_domain ON posts (domain);
CREATE INDEX posts_screened_at ON posts (screened_at);

CREATE TABLE sightings (
    uri        TEXT NOT NULL REFERENCES posts (uri),
    source     TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (uri, source)
) STRICT;

CREATE TABLE cursors (
    source     TEXT NOT NULL,
    hashtag    TEXT NOT NULL,
    status_id  TEXT NOT NULL,                   -- numeric string, only ever moves forward
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, hashtag)
) STRICT;

CREATE TABLE queue (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,   -- shown to moderators as h<id>
    uri             TEXT NOT NULL UNIQUE REFERENCES posts (uri),
    state           TEXT NOT NULL,
    decision        TEXT NOT NULL,
    reasons         TEXT NOT NULL,
    held_at         TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    actor           TEXT NOT NULL,                       -- who made the last move
    reason          TEXT,
    announcement_id TEXT UNIQUE                          -- the moderator DM that announced it
) STRICT;
CREATE INDEX queue_state ON queue (state, held_at);

CREATE TABLE journal (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uri         TEXT NOT NULL REFERENCES posts (uri),
    kind        TEXT NOT NULL CHECK (kind IN ('boost', 'unboost')),
    state       TEXT NOT NULL CHECK (state IN ('intent', 'done', 'failed')),
    local_id    TEXT,                                -- the status id on the home instance
    reblog_id   TEXT,
    error       TEXT,
    created_at  TEXT NOT NULL,
    finished_at TEXT
) STRICT;
CREATE INDEX journal_uri ON journal (uri, state);
CREATE INDEX journal_open ON journal (state) WHERE state = 'intent';

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,                    -- 'relay' or a moderator's user@domain
    action TEXT NOT NULL,
    uri    TEXT,
    target TEXT,
    detail TEXT
) STRICT;
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_uri ON audit (uri);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

_V2_PEOPLE_SETTINGS_SOURCES = """
CREATE TABLE consent (
    acct       TEXT PRIMARY KEY,
    mode       TEXT NOT NULL CHECK (mode IN ('opt-out', 'opt-in')),
    actor      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE blocks (
    target     TEXT PRIMARY KEY,             -- user@domain or a bare domain (covers subdomains)
    kind       TEXT NOT NULL CHECK (kind IN ('account', 'domain')),
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE trusted (
    acct       TEXT PRIMARY KEY,
    actor      TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE source_days (
    source    TEXT NOT NULL,
    day       TEXT NOT NULL,                 -- UTC date, YYYY-MM-DD
    count     INTEGER NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (source, day)
) STRICT;
"""

_V3_LOCAL_IDS = """
-- Each source's own id for a post, so that a `delete` event (which carries only that id) finds
-- the post's uri, also after a restart.
ALTER TABLE sightings ADD COLUMN local_id TEXT;
CREATE INDEX sightings_local_id ON sightings (source, local_id);
"""

_V4_RECENT_BOOSTS = """
-- Recent done boosts, for the per-author 24-hour count that every screening asks for: without it
-- the count walks every post the author ever had.
CREATE INDEX journal_done_at ON journal (kind, state, finished_at);
"""

_V5_HANDLED_MENTIONS = """
-- The bot's mentions already handled (status ids on the home instance), so that a stream and a
-- catch-up delivering one twice never run its commands twice. Pruned after 30 days. Until v4
-- each was a settings row `moderation.handled.<status id>`: they move here.
CREATE TABLE handled_mentions (
    status_id  TEXT PRIMARY KEY,
    handled_at TEXT NOT NULL
) STRICT;
CREATE INDEX handled_mentions_at ON handled_mentions (handled_at);
INSERT INTO handled_mentions (status_id, handled_at)
    SELECT substr(key, length('moderation.handled.') + 1), updated_at FROM settings
    WHERE key GLOB 'moderation.handled.*';
DELETE FROM settings WHERE key GLOB 'moderation.handled.*';
"""

_V6_JOURNAL_AUTHORS = """
-- The author of each journal row, so that an author's done boosts of the last 24 hours (asked at
-- every screening) are one index range. Until v5 that count walked every boost of the whole day
-- (journal_done_at) and looked up each one's post: ~0.3 ms a screening after 1,000 boosts that day.
ALTER TABLE journal ADD COLUMN acct TEXT;
UPDATE journal SET acct = (SELECT acct FROM posts WHERE posts.uri = journal.uri);
CREATE INDEX journal_author_done ON journal (acct, kind, state, finished_at);
"""

_V7_DONE_INDEXES_HOLD_DONE_ROWS = """
-- The two indexes of done boosts hold done boosts only. Every query that reads them asks for
-- state = 'done', but they held every journal row: each accepted post's boost intent went into
-- both at once (with no finish time), and the booster moved it within both when it finished.
DROP INDEX journal_done_at;
CREATE INDEX journal_done_at ON journal (kind, finished_at) WHERE state = 'done';
DROP INDEX journal_author_done;
CREATE INDEX journal_author_done ON journal (acct, kind, finished_at) WHERE state = 'done';
"""

_V8_BOOST_INTENT_AT = """
-- The per-author cap counts the author's posts accepted for boosting (by the rules or by a
-- moderator) in the last 24 hours, whatever became of their boosts since (done, still an intent,
-- failed, undone). Until v7 it counted the boosts finished, so that a decision depended on how far
-- the booster had got. Each post keeps the time of its newest boost intent: the count is then of
-- posts (one boosted again after an edit is one post), one range of an index that holds all it
-- reads. Nothing else read the author's done boosts: their index goes.
ALTER TABLE posts ADD COLUMN boost_intent_at TEXT;
UPDATE posts SET boost_intent_at = (
    SELECT max(created_at) FROM journal WHERE journal.uri = posts.uri AND kind = 'boost'
) WHERE uri IN (SELECT uri FROM journal WHERE kind = 'boost');
CREATE INDEX posts_author_boosts ON posts (acct, boost_intent_at, uri) WHERE boost_intent_at IS NOT NULL;
DROP INDEX journal_author_done;
"""

_V9_EARLY_DELETES = """
-- Deletes that came before their post: `delete` events for a status id the relay did not know yet
-- (Mastodon's streaming server sends a delete at once but holds its post back), so that the post,
-- when it comes from that source, is recorded as retracted and never boosted. Kept a day, and at
-- most a bounded number (see relay.runtime.pipeline).
CREATE TABLE early_deletes (
    source     TEXT NOT NULL,               -- the host whose stream sent the delete
    local_id   TEXT NOT NULL,               -- that host's id of the status
    deleted_at TEXT NOT NULL,
    PRIMARY KEY (source, local_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX early_deletes_at ON early_deletes (deleted_at);
"""

_V10_ANCHORS = """
-- Replies to anchor posts (relay.toml's [[anchors]]): which post replies to which anchor, so that
-- every later screening of the post (an edit from any source, a recheck) knows it needs no hashtag.
-- Written by the pipeline when an anchor's context (or the bot's mentions) brings the reply.
CREATE TABLE anchor_replies (
    uri       TEXT PRIMARY KEY,             -- the reply's ActivityPub id (as posts.uri)
    anchor    TEXT NOT NULL,                -- the anchor's URL as relay.toml names it
    linked_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX anchor_replies_anchor ON anchor_replies (anchor);
"""

_V11_QUOTES = """
-- The quote state of the stored version of a quote post (Mastodon 4.5: pending, accepted, revoked,
-- deleted, ...; NULL for a post that is no quote). A quote revoked by the quoted author, or whose
-- quoted post was deleted, comes with the same edited_at and a state further on: screened again.
ALTER TABLE posts ADD COLUMN quote_state TEXT;
"""

_V12_DIRECTORY = """
-- The community directory: people who asked to be listed (`join` by DM), never anyone else. A
-- row stays when its member leaves or is removed (left_at set), so that the audit log's targets
-- keep their meaning and a Collection item still to be removed is remembered.
CREATE TABLE members (
    acct          TEXT PRIMARY KEY,             -- user@domain, lower case
    account_id    TEXT,                         -- the account's id on the home instance
    uri           TEXT NOT NULL,                -- the account's ActivityPub id (stable identity)
    url           TEXT,                         -- the profile page
    display_name  TEXT NOT NULL,
    note          TEXT NOT NULL,                -- the bio as the server sent it (HTML, unsanitised)
    joined_at     TEXT NOT NULL,                -- the latest join (a member who left and came back)
    intro_uri     TEXT,                         -- the introduction: a post's uri ...
    intro_url     TEXT,
    intro_html    TEXT,                         -- ... and its content (HTML, unsanitised)
    intro_chosen  INTEGER NOT NULL DEFAULT 0,   -- 1: chosen with `intro`; 0: the first boost
    left_at       TEXT,                         -- NULL while listed
    left_reason   TEXT CHECK (left_reason IN ('leave', 'unlist', 'optout', 'block')),
    collection_id TEXT,                         -- the Mastodon Collection holding the member ...
    item_id       TEXT,                         -- ... its item there ...
    item_state    TEXT,                         -- ... and that item's consent state
    updated_at    TEXT NOT NULL
) STRICT;
CREATE INDEX members_listed ON members (joined_at) WHERE left_at IS NULL;

-- The bot's Collections that publish the directory (one holds at most 25 accounts).
CREATE TABLE directory_collections (
    id         TEXT PRIMARY KEY,
    url        TEXT,
    created_at TEXT NOT NULL
) STRICT;
"""

_V13_DIGESTS = """
-- The weekly digests (relay.store.digests): one row per period, keyed by the scheduled instant it
-- ends at. Written as an intent (with the texts to post, fixed then) BEFORE the first post, each
-- part's status id recorded AFTER its post, done when every part is posted; a period with nothing
-- to say is recorded done with no parts. An intent left by a crash is reconciled at the next start
-- against the bot's own statuses, so a period is posted once.
CREATE TABLE digests (
    period_end   TEXT PRIMARY KEY,
    period_start TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('intent', 'done', 'failed')),
    parts        TEXT NOT NULL,               -- JSON list of the texts, in posting order
    status_ids   TEXT NOT NULL DEFAULT '[]',  -- JSON list: the home ids of the parts posted so far
    error        TEXT,
    created_at   TEXT NOT NULL,
    finished_at  TEXT
) STRICT, WITHOUT ROWID;
"""

MIGRATIONS: tuple[str, ...] = (
    _V1_POSTS_QUEUE_JOURNAL_AUDIT,
    _V2_PEOPLE_SETTINGS_SOURCES,
    _V3_LOCAL_IDS,
    _V4_RECENT_BOOSTS,
    _V5_HANDLED_MENTIONS,
    _V6_JOURNAL_AUTHORS,
    _V7_DONE_INDEXES_HOLD_DONE_ROWS,
    _V8_BOOST_INTENT_AT,
    _V9_EARLY_DELETES,
    _V10_ANCHORS,
    _V11_QUOTES,
    _V12_DIRECTORY,
    _V13_DIGESTS,
)
"""`MIGRATIONS[n - 1]` upgrades schema version `n - 1` to `n`."""

LATEST = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database file (0 for a new, empty file)."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    return int(version)


def apply(conn: sqlite3.Connection, *, upto: int = LATEST) -> list[int]:
    """Apply every migration after the file's version up to `upto`; return the versions applied.

    `conn` must be in autocommit mode (`isolation_level=None`). Each migration and its
    `user_version` bump commit together or not at all.
    """
    applied = []
    for version in range(schema_version(conn) + 1, upto + 1):
        script = MIGRATIONS[version - 1]
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version:d};\nCOMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied
