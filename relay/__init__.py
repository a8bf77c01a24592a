"""relay: a self-hosted fediverse hashtag boost relay."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hashtag-relay")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

WEBSITE = "https://pypi.org/project/hashtag-relay/"
USER_AGENT = f"relay/{__version__} (+{WEBSITE})"  # on every request the relay makes to an instance
REQUEST_TIMEOUT = 30.0  # seconds each of those requests (REST, RSS, login) may take
