"""The SQLite connection under `relay.store.Store`: opening, migrating, transactions, errors.

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

from relay import migrations
from relay.errors import StoreError
from relay.store_types import to_text

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


class StoreBase:
    """One SQLite connection, used by one writer thread (a lock makes accidental sharing safe)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        readonly: bool,
        now: Callable[[], datetime],
    ) -> None:
        """Wrap an open, migrated connection; use `Store.open()` rather than this."""
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._now = now
        self._lock = threading.RLock()
        self._depth = 0  # open write transactions of this store (0 or 1; nested calls join)

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
        with self._reading() as c:
            return migrations.schema_version(c)

    # -- for the Store's methods -------------------------------------------------------------

    def _at(self, now: datetime | None) -> str:
        """`now` (or the store's clock) as stored text."""
        return to_text(self._now() if now is None else now)

    def _clock(self, now: datetime | None) -> datetime:
        return self._now() if now is None else now

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): commits on success, rolls back on any error."""
        if self.readonly:
            raise StoreError(
                f"{self.path} was opened read-only",
                fix="this is a bug in the calling command: it must not write",
            )
        with self._lock, _translating(self.path):
            if self._depth:  # inside `atomic()`: part of the enclosing transaction
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # also when COMMIT itself failed
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth -= 1

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside `atomic()`: undo only this block's writes if it raises (the error propagates)."""
        with self._writing() as c:
            c.execute("SAVEPOINT item")
            try:
                yield
            except BaseException:
                c.execute("ROLLBACK TO item")
                c.execute("RELEASE item")
                raise
            c.execute("RELEASE item")

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Make every Store call inside one transaction: all of them happen, or none.

        The pipeline decides on a post in one `atomic()` block (seen, screened, boost intent or
        hold, cursor), so a crash at any moment leaves either all of it or none of it.
        """
        with self._writing():
            yield

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads (each statement sees a consistent snapshot)."""
        with self._lock, _translating(self.path):
            yield self._conn

    def _audit_in(
        self,
        c: sqlite3.Connection,
        action: str,
        *,
        actor: str,
        at: str,
        uri: str | None = None,
        target: str | None = None,
        detail: str | None = None,
    ) -> int:
        """Append one audit row inside the caller's transaction; return its id."""
        cur = c.execute(
            "INSERT INTO audit (at, actor, action, uri, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (at, actor, action, uri, target, detail),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """The first column of the first row of a read, or `None`."""
        with self._reading() as c:
            row = c.execute(sql, params).fetchone()
        return None if row is None else row[0]


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
        translated = _translate(exc, path)
        if translated is exc:
            raise
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
