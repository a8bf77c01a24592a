"""relay: a self-hosted fediverse hashtag boost relay."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hashtag-relay")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
