"""`relay login --instance URL`: get the bot's token with the OAuth code flow and write it (0600).

Registers an app on the instance, prints the page to open in a browser where the bot account is
logged in, reads the code that page shows (from stdin, or `--code`), exchanges it for a token,
writes the token file with mode 0600 and says which account it is for. The token is never printed.
The app registration is kept beside the token (`<token_file>.app`, 0600), so a later run can finish
with `--code` and re-logins do not register a new app each time.

Errors end with one message and the usual exit codes: 2 for what the operator must fix (a wrong
URL, a refused code, a file that cannot be written), 1 for an instance that cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from mastodon import Mastodon, MastodonError, MastodonIllegalArgumentError, MastodonNetworkError

from relay import REQUEST_TIMEOUT, USER_AGENT, WEBSITE
from relay.cli.checklist import REQUIRED_SCOPES, required_scopes
from relay.config.credentials import write_token_file
from relay.config.load import UrlProblem, base_url, url_problem
from relay.errors import ConfigError, CredentialsError, RelayError
from relay.log import register_secret
from relay.sources.client import mastodon_client
from relay.sources.nodeinfo import detect

OOB = "urn:ietf:wg:oauth:2.0:oob"  # "show the code on a page": no web server needed on the relay's side
APP_NAME = "relay"


@dataclass(frozen=True, slots=True)
class Instance:
    """A validated instance base URL, and whether plain http is allowed for it (loopback only)."""

    url: str
    host: str
    allow_http: bool


def parse_instance(value: str) -> Instance:
    """`https://host[:port]` (a bare host means https); http:// only for loopback. ConfigError else."""
    text = value.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    problem = url_problem(parts)
    if problem is UrlProblem.NOT_A_URL:
        raise ConfigError(
            f"--instance {value!r} is not an instance URL", fix="pass --instance https://your.instance"
        )
    if problem is UrlProblem.PATH:
        raise ConfigError(
            f"--instance {value!r} has a path",
            fix=f"pass the base URL only: --instance {parts.scheme}://{parts.netloc}",
        )
    if problem is UrlProblem.PLAIN_HTTP:
        raise ConfigError(
            f"--instance {value!r} uses plain http:// (accepted for loopback addresses only)",
            fix=f"pass --instance https://{parts.netloc}",
        )
    return Instance(url=base_url(parts), host=parts.netloc.lower(), allow_http=parts.scheme == "http")


def default_token_file(instance: Instance) -> Path:
    """`./<host>.token` in the current folder (a port's ':' becomes '_')."""
    return Path(instance.host.replace(":", "_") + ".token")


def log_in(
    instance: Instance,
    token_file: Path,
    *,
    code: str | None,
    stdin: TextIO,
    stdout: TextIO,
) -> str:
    """Run the code flow, write `token_file` (0600) and return the account's handle.

    On failure nothing this run wrote is left behind, except the app registration when the failure
    is about the code (none given, or refused): a later `--code` run finishes with that app.
    """
    found = detect(instance.url)
    kind = found.kind
    scopes = required_scopes(kind)
    server = kind.label if found.error is None else f"a server it does not name ({found.error})"
    print(f"{instance.host} runs {server}: asking for {' '.join(scopes)}", file=stdout)
    registration = app_file(token_file)
    existed = registration.exists()
    keep = False  # the app registration stays after a failure (the code stage: `--code` reuses it)
    try:
        with _asking(
            instance,
            RelayError,
            "refused to register the relay as an app",
            fix="check that the URL is a Mastodon-compatible instance that accepts new apps",
        ):
            client_id, client_secret = _app_credentials(instance, registration, scopes)
            app = _client(instance, client_id=client_id, client_secret=client_secret)
            url = app.auth_request_url(scopes=list(scopes), redirect_uris=OOB, allow_http=instance.allow_http)
        keep = True
        token = _exchange(instance, token_file, app, url, scopes, code=code, stdin=stdin, stdout=stdout)
        keep = False
        with _asking(
            instance, CredentialsError, "gave a token that does not work", fix="run `relay login` again"
        ):
            acct = verify(instance, token)
        try:
            write_token_file(token_file, token)
        except OSError as exc:
            raise ConfigError(
                f"cannot write the token file {token_file}: {exc.strerror}",
                fix="pass a --token-file in a folder you may write to",
            ) from None
    except BaseException:
        if not keep and not existed:
            registration.unlink(missing_ok=True)
        raise
    return acct


def _exchange(
    instance: Instance,
    token_file: Path,
    app: Mastodon,
    url: str,
    scopes: tuple[str, ...],
    *,
    code: str | None,
    stdin: TextIO,
    stdout: TextIO,
) -> str:
    """Show the authorisation page, read its code and exchange it for the token (kept secret)."""
    if code is None:
        print(
            "1. Open this page in a browser where the bot account is logged in, and authorise:", file=stdout
        )
        print(url, file=stdout)
        print("2. Paste the code the page shows, then press Enter:", file=stdout, flush=True)
        code = stdin.readline()
    code = code.strip()
    if not code:
        raise CredentialsError(
            "no authorisation code was given",
            fix=f"paste the code when asked, or run `relay login --instance {instance.url}"
            f" --token-file {token_file} --code=CODE`"  # "=": a code may begin with "-"
            f" (the app registration is kept in {app_file(token_file)})",
        )
    with _asking(
        instance,
        CredentialsError,
        "did not grant the token the relay needs",
        fix="authorise every permission the page asks for: " + " ".join(scopes),
    ):
        try:
            token = app.log_in(
                code=code, scopes=list(scopes), redirect_uri=OOB, allow_http=instance.allow_http
            )
        except MastodonIllegalArgumentError:
            raise CredentialsError(
                f"{instance.host} did not accept the authorisation code (wrong, expired or already used)",
                fix="run `relay login` again and paste the code the authorisation page shows (if it keeps"
                f" failing, delete {app_file(token_file)} to register the app anew)",
            ) from None
    register_secret(token)
    return str(token)


def verify(instance: Instance, token: str) -> str:
    """The handle of the account `token` belongs to (Mastodon.py errors pass through)."""
    me = api_for(instance, token).account_verify_credentials()
    return f"{me['acct']}@{instance.host}" if "@" not in me["acct"] else str(me["acct"])


def api_for(instance: Instance, token: str) -> Mastodon:
    """A client of `instance` with `token`, as `relay login` makes its calls."""
    return _client(instance, access_token=token)


def app_file(token_file: Path) -> Path:
    """Where the app registration (client id and secret) for `token_file` is kept: `<token_file>.app`."""
    return token_file.with_name(token_file.name + ".app")


def _app_credentials(instance: Instance, path: Path, scopes: tuple[str, ...]) -> tuple[str, str]:
    """The app registered earlier for this instance and these scopes (kept in `path`), else a new
    one, saved there (0600).

    Keeping it lets `--code` finish a login whose page was opened by an earlier run: a code is only
    valid for the app that asked for it. A registration without its scopes (written before they
    were kept) is for `REQUIRED_SCOPES`.
    """
    try:
        lines = path.read_text(encoding="utf-8").split()
    except OSError:
        lines = []
    registered = lines[3] if len(lines) == 4 else ",".join(REQUIRED_SCOPES)
    if len(lines) in (3, 4) and lines[2] == instance.url and registered == ",".join(scopes):
        return lines[0], lines[1]
    client_id, client_secret = Mastodon.create_app(
        APP_NAME,
        api_base_url=instance.url,
        scopes=list(scopes),
        redirect_uris=OOB,
        website=WEBSITE,
        request_timeout=REQUEST_TIMEOUT,
        user_agent=USER_AGENT,
    )
    try:
        write_token_file(path, f"{client_id}\n{client_secret}\n{instance.url}\n{','.join(scopes)}")
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror}", fix="pass a --token-file in a folder you may write to"
        ) from None
    return client_id, client_secret


def _client(
    instance: Instance,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    access_token: str | None = None,
) -> Mastodon:
    return mastodon_client(instance.url, access_token, client_id=client_id, client_secret=client_secret)


@contextmanager
def _asking(instance: Instance, error: type[RelayError], refused: str, *, fix: str) -> Iterator[None]:
    """Turn the block's Mastodon.py errors into the relay's, each ending with one message.

    A network error says the instance cannot be reached (exit 1); any other error of the instance's
    becomes `error("HOST REFUSED: the instance's own text", fix=fix)`.
    """
    try:
        yield
    except MastodonNetworkError as exc:
        raise RelayError(
            f"cannot reach {instance.url}: {type(exc).__name__}",
            fix="check the URL, the network and that the instance is up, then run `relay login` again",
        ) from None
    except MastodonError as exc:
        raise error(f"{instance.host} {refused}: {_short(exc)}", fix=fix) from None


def _short(exc: MastodonError) -> str:
    """The instance's own error text from a Mastodon.py error, without the request details."""
    args = exc.args
    if len(args) >= 4 and isinstance(args[3], str):
        return args[3]
    return type(exc).__name__


# -- the `relay login` subcommand ---------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instance", required=True, help="the bot account's instance, e.g. https://therapists.example"
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="where to write the token (mode 0600; default: ./HOST.token)",
    )
    parser.add_argument(
        "--code", default=None, help="the authorisation code, if you already have one (default: asked for)"
    )


def run(args: argparse.Namespace) -> int:
    instance = parse_instance(args.instance)
    token_file: Path = args.token_file or default_token_file(instance)
    acct = log_in(instance, token_file, code=args.code, stdin=sys.stdin, stdout=sys.stdout)
    print(f"Token for @{acct} written to {token_file} (mode 0600).")
    print(
        f'Next: in relay.toml, [home] url = "{instance.url}" and token_file = "{token_file.resolve()}";'
        " then run `relay check -c relay.toml`."
    )
    return 0
