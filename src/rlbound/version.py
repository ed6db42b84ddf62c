"""rlbound's version string, the one every manifest records (from the installed package metadata)."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("rlbound")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
