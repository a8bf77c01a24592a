"""Access tokens: read from a file that only its owner can read, or from the environment.

A token is a password for the bot account. It is never logged: `relay.log` redacts every token
read here from all log output.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from relay.config.load import InstanceConfig
from relay.errors import CredentialsError
from relay.log import register_secret


def read_token(instance: InstanceConfig, *, environ: Mapping[str, str] | None = None) -> str | None:
    """The token for `instance`: its environment variable wins, then its token file, else None."""
    env = os.environ if environ is None else environ
    value = env.get(instance.token_env, "").strip()
    if value:
        register_secret(value)
        return value
    if instance.token_file is None:
        return None
    return read_token_file(instance.token_file, environ=env)


def read_token_file(path: Path, *, environ: Mapping[str, str] | None = None) -> str:
    """Read a token file, refusing one that group or others can read (with the chmod that fixes it).

    Under systemd with `LoadCredential=NAME:PATH`, the unit's (dynamic) user cannot read the
    root-owned file itself: systemd hands a copy to the service in `$CREDENTIALS_DIRECTORY`, named
    after the credential. A credential named like the token file is read from there instead.
    """
    env = os.environ if environ is None else environ
    credentials = env.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / path.name).is_file():
        path = Path(credentials) / path.name
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CredentialsError(
            f"token file {path} does not exist",
            fix=f"run `relay login --instance URL --token-file {path}`, or set the token's variable",
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"token file {path} is readable by others (mode {stat.S_IMODE(mode):04o})",
            fix=f"chmod 600 {path}",
        )
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialsError(
            f"token file {path} cannot be read: {exc.strerror}", fix="check its owner"
        ) from None
    if not token:
        raise CredentialsError(f"token file {path} is empty", fix=f"run `relay login --token-file {path}`")
    register_secret(token)
    return token


def write_token_file(path: Path, token: str) -> None:
    """Write a token file created with mode 0600 (never briefly readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)
