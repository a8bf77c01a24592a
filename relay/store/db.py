"""The one SQLite connection every part of `relay.store.store.Store` shares: opening, migrating,
transactions, errors.

Everything that can go wrong with the file itself (not a database, corrupt, locked by another
process, from a newer relay, unreadable) becomes a `StoreError` with a message and a fix, never a
raw `sqlite3` traceback.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from relay.errors import StoreError
from relay.store import migrations
from relay.store.records import to_text

DEFAULT_BUSY_TIMEOUT = 5.0
"""Seconds a statement waits for another connection's lock before giving up."""

_FIX_LOCKED = (
    "another process holds a write lock on this file: stop the other relay using the same "
    "state file (each relay.toml needs its own), or wait for it to finish and try again"
)
_FIX_CORRUPT = (
    "restore the file from a backup, or move it aside to start with empty state "
    "(cursors, queue and history are then lost)"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Db:
    """One SQLite connection, used by one writer thread (a lock makes accidental sharing safe)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        readonly: bool,
        now: Callable[[], datetime],
    ) -> None:
        """Wrap an open, migrated connection; use `Db.open()` (or `Store.open()`) rather than this."""
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._now = now
        self._lock = threading.RLock()
        self._depth = 0  # open write transactions of this store (0 or 1; nested calls join)
        self._last_at: tuple[datetime, str] | None = None

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        now: Callable[[], datetime] | None = None,
        readonly: bool = False,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> Self:
        """Open (creating and migrating if needed) the state file at `path`.

        `readonly=True` is for CLI commands that look while the relay runs: the file must exist
        and be at the latest schema; nothing is written. `now` is the clock used when a method is
        called without `now=`. Raises `StoreError` for a file that cannot be used.
        """
        path = Path(path)
        if readonly and not path.is_file():
            raise StoreError(
                f"no relay state file at {path}",
                fix="check `state_path` in relay.toml, or run the relay once to create it",
            )
        target = f"file:{quote(str(path.resolve()))}?mode=ro" if readonly else str(path)
        try:
            conn = sqlite3.connect(
                target,
                uri=readonly,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open {path} ({exc})",
                fix="check that the directory exists and the relay's user may read and write it",
            ) from exc
        try:
            with _translating(path):
                _prepare(conn, path, readonly=readonly, busy_timeout=busy_timeout)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, readonly=readonly, now=now or _utc_now)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self.reading() as c:
            return migrations.schema_version(c)

    # -- for the store's parts -----------------------------------------------------------------

    def at(self, now: datetime | None) -> str:
        """`now` (or the store's clock) as stored text (the last one is remembered: the pipeline
        passes one `now` to every call it makes for a post)."""
        when = self._now() if now is None else now
        last = self._last_at
        if last is not None and last[0] == when:
            return last[1]
        text = to_text(when)
        self._last_at = (when, text)
        return text

    def clock(self, now: datetime | None) -> datetime:
        return self._now() if now is None else now

    def writing(self) -> _Writing:
        """A write transaction (BEGIN IMMEDIATE): commits on success, rolls back on any error.

        Inside `atomic()` it joins the enclosing transaction. (A small class rather than a
        generator: the pipeline enters several of these for every post.)
        """
        if self.readonly:
            raise StoreError(
                f"{self.path} was opened read-only",
                fix="this is a bug in the calling command: it must not write",
            )
        return _Writing(self)

    def savepoint(self) -> _Savepoint:
        """Inside `atomic()`: undo only this block's writes if it raises (the error propagates)."""
        return _Savepoint(self)

    def atomic(self) -> _Writing:
        """Make every Store call inside one transaction: all of them happen, or none.

        The pipeline decides on a batch of posts in one `atomic()` block (seen, screened, boost
        intent or hold, cursors), so a crash at any moment leaves either all of it or none of it.
        """
        return self.writing()

    def reading(self) -> _Reading:
        """The connection for reads (each statement sees a consistent snapshot)."""
        return _Reading(self)

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """The first column of the first row of a read, or `None`."""
        with self.reading() as c:
            row = c.execute(sql, params).fetchone()
        return None if row is None else row[0]


class _Reading:
    """`with db.reading() as c`: the store's lock held, file errors turned into StoreError."""

    __slots__ = ("_store",)

    def __init__(self, store: Db) -> None:
        self._store = store

    def __enter__(self) -> sqlite3.Connection:
        self._store._lock.acquire()
        return self._store._conn

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._store._lock.release()
        if exc is not None:
            _raise_translated(exc, self._store.path)


class _Writing(_Reading):
    """`with db.writing() as c`: BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error; inside an
    open transaction of the same store, only joins it."""

    __slots__ = ("_outer",)

    def __enter__(self) -> sqlite3.Connection:
        store = self._store
        store._lock.acquire()
        self._outer = store._depth == 0
        if self._outer:
            try:
                store._conn.execute("BEGIN IMMEDIATE")
            except BaseException as exc:
                store._lock.release()
                _raise_translated(exc, store.path)
                raise
            store._depth = 1
        return store._conn

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        store = self._store
        if self._outer:
            try:
                if exc is None:
                    try:
                        store._conn.execute("COMMIT")
                    except BaseException:
                        if store._conn.in_transaction:  # COMMIT itself failed
                            store._conn.execute("ROLLBACK")
                        raise
                elif store._conn.in_transaction:
                    store._conn.execute("ROLLBACK")
            except BaseException as error:
                store._depth = 0
                store._lock.release()
                _raise_translated(error, store.path)
                raise
            store._depth = 0
        super().__exit__(exc_type, exc, tb)


class _Savepoint:
    """`with store.savepoint()`: a savepoint inside the store's transaction, rolled back alone."""

    __slots__ = ("_store", "_writing")

    def __init__(self, store: Db) -> None:
        self._store = store

    def __enter__(self) -> None:
        self._writing = self._store.writing()
        conn = self._writing.__enter__()
        try:
            conn.execute("SAVEPOINT item")
        except BaseException as exc:
            self._writing.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn = self._store._conn
        try:
            if exc is not None:
                conn.execute("ROLLBACK TO item")
            conn.execute("RELEASE item")
        except BaseException as error:
            self._writing.__exit__(type(error), error, error.__traceback__)
            raise
        self._writing.__exit__(exc_type, exc, tb)


def _prepare(conn: sqlite3.Connection, path: Path, *, readonly: bool, busy_timeout: float) -> None:
    """Set pragmas, check the file, and migrate it (unless read-only)."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000):d}")
    conn.execute("PRAGMA foreign_keys = ON")
    version = migrations.schema_version(conn)  # the first read: fails here on a non-database
    if version > migrations.LATEST:
        raise StoreError(
            f"{path} has schema version {version}, but this relay knows versions up to "
            f"{migrations.LATEST}: it was written by a newer relay",
            fix="upgrade relay (pip install --upgrade hashtag-relay), or restore an older state file",
        )
    problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise StoreError(f"{path} is corrupt: {'; '.join(problems[:3])}", fix=_FIX_CORRUPT)
    if readonly:
        if version < migrations.LATEST:
            raise StoreError(
                f"{path} has schema version {version}, older than this relay's {migrations.LATEST}",
                fix="start the relay once (it migrates the file), then run this command again",
            )
        return
    (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if str(mode).lower() != "wal":
        raise StoreError(
            f"{path} cannot use write-ahead logging (journal mode stays {mode!r})",
            fix="put the state file on a local filesystem (not NFS or a read-only mount)",
        )
    migrations.apply(conn)


@contextmanager
def _translating(path: Path) -> Iterator[None]:
    """Turn the file-level `sqlite3` errors into `StoreError`; let programming errors through."""
    try:
        yield
    except sqlite3.Error as exc:
        _raise_translated(exc, path)
        raise


def _raise_translated(exc: BaseException, path: Path) -> None:
    """Raise the `StoreError` that a file-level sqlite3 error `exc` stands for; return otherwise
    (the caller re-raises `exc` itself)."""
    if isinstance(exc, sqlite3.Error):
        translated = _translate(exc, path)
        if translated is not exc:
            raise translated from exc


def _translate(exc: sqlite3.Error, path: Path) -> Exception:
    """The `StoreError` for a file-level sqlite3 error, or `exc` itself for anything else."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
        return exc
    if "locked" in text or "busy" in text:
        return StoreError(f"{path} is locked by another process ({exc})", fix=_FIX_LOCKED)
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(f"{path} is not a usable relay database ({exc})", fix=_FIX_CORRUPT)
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return StoreError(
            f"cannot open {path} for {'reading' if 'open' in text else 'writing'} ({exc})",
            fix="check that the directory exists and the relay's user may read and write it",
        )
    if "disk" in text or "full" in text:
        return StoreError(f"cannot write {path} ({exc})", fix="free disk space or check the disk")
    return exc
