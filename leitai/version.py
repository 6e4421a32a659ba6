"""The software's name and version, as a publication's certificate records it."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = f"leitai {version('leitai')}"
except PackageNotFoundError:  # run from a source tree that was not installed
    VERSION = "leitai (not installed)"
