"""The SQLite state file: posts, cursors, the review queue, the boost journal, people, audit, settings.

`relay.store.store.Store` is the one entry point: a connection (`relay.store.db`) and one part per
concept (`posts`, `queue`, `journal`, `people`, `members`, `audit`, `settings`, `stats`), each owning its
tables and SQL; the schema is in `relay.store.migrations` and the records returned in
`relay.store.records`. A part uses another only through its public methods.

Every method takes `now` (a timezone-aware datetime; default: the store's clock). Misuse raises
`LookupError` (an unknown uri or queue id where one must exist) or `ValueError` (an unknown
consent, a malformed id, boosting a retracted post); a state change that the lifecycle tables
(`relay.core.lifecycle`) do not allow raises `relay.errors.IllegalTransition`, logged and with
nothing written; a file that cannot be used raises `relay.errors.StoreError`.

The store records; it decides no policy: dedupe (`relay.core.dedupe`), screening and the
lifecycle moves are pure code in `relay.core`, asked by the caller or, for the lifecycle, by the
store's state-writing methods themselves.

Audit rule: a write that records a decision (the relay's or a person's) writes its own audit row,
in the same transaction, with the actor it is given (`relay` by default): a verdict
(`screen.<decision>`: `add_screened`, `record_verdict`), a queue move (`queue.<state>`: `hold`,
`move_queue`), a retraction (`post.retracted`), consent (`consent.<mode>`), a block or unblock,
trust or untrust, pause or resume, a directory join, removal or chosen introduction
(`directory.<join|leave|unlist|optout|block|intro>`). Bookkeeping is not audited: sightings, cursors, early
deletes, the boost journal (the booster's to-do list, following from an audited decision),
counters, settings other than pause, handled mentions, the directory's Collection items and the
introduction the relay picks. `audit()` is only for a decision that no
write records (a refused DM; a moderator's `boost` command, whose only write is the journal's
intent); no caller audits a write the store made.
"""
