"""The systemd notify protocol (sd_notify(3)): tell systemd the relay is ready, alive, stopping.

systemd passes `$NOTIFY_SOCKET` (a unix datagram socket; a leading '@' means the abstract
namespace) to a `Type=notify` service; every message is one datagram of `KEY=VALUE` lines. Without
`$NOTIFY_SOCKET` (a terminal, a test, another supervisor) every function here does nothing and
returns False, so the relay calls them unconditionally.

How `relay run` uses it (systemd/relay@.service has `Type=notify` and `WatchdogSec=60`):

    notify.ready("streaming 3 sources")      # once, after the home account is verified and the
                                             # sources are started: `systemctl start` returns then
    every = notify.watchdog_interval()       # None without a watchdog, else WatchdogSec / 2 seconds
    ...                                      # in the main loop, at most every `every` seconds and
    notify.watchdog()                        # ONLY while healthy (the loop turns, the store answers):
                                             # a hung relay then misses the ping and systemd restarts it
    notify.status("3 streams up, queue 2")   # optional: shown by `systemctl status`
    notify.stopping()                        # when the stop event is set, before closing streams

Hand-written on purpose (~40 lines of stdlib) rather than the `sdnotify` package: that one (0.3.2,
2017) keeps one socket per object, swallows every error with a bare `except:` and has no watchdog
interval helper, and the protocol is one `sendto` per message.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

log = structlog.get_logger()


def _address(environ: Mapping[str, str]) -> str | None:
    path = environ.get("NOTIFY_SOCKET", "")
    if not path:
        return None
    return "\0" + path[1:] if path.startswith("@") else path


def notify(*lines: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send `KEY=VALUE` lines as one datagram to `$NOTIFY_SOCKET`; False when unset or it fails."""
    address = _address(os.environ if environ is None else environ)
    if address is None:
        return False
    message = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            # Never block the relay's main loop: a listener that does not read (its queue is
            # full) loses this message instead, as a watchdog ping that is late anyway.
            sock.setblocking(False)
            sock.sendto(message, address)
    except OSError as exc:
        log.warning("notify.failed", error=str(exc), message=lines[0].split("=")[0] if lines else "")
        return False
    return True


def ready(status: str | None = None) -> bool:
    """READY=1: start-up is complete (for `Type=notify`, `systemctl start` waits for this)."""
    return notify("READY=1", *(() if status is None else (f"STATUS={status}",)))


def watchdog() -> bool:
    """WATCHDOG=1: the relay is alive and healthy; send it every `watchdog_interval()` seconds."""
    return notify("WATCHDOG=1")


def stopping(status: str | None = None) -> bool:
    """STOPPING=1: the relay is shutting down (stop pinging the watchdog after this)."""
    return notify("STOPPING=1", *(() if status is None else (f"STATUS={status}",)))


def status(text: str) -> bool:
    """STATUS=text: one line that `systemctl status` shows."""
    return notify(f"STATUS={text}")


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings: half of `$WATCHDOG_USEC`; None when no watchdog is set
    (or it is meant for another process, per `$WATCHDOG_PID`)."""
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None
