"""Command-line interface: ``trustecon COMMAND WORKSPACE ...`` (see ``trustecon --help``)."""

from trustecon.cli._app import app

# Each module registers its commands on ``app`` when imported.
from trustecon.cli import data  # noqa: E402,F401
from trustecon.cli import kpis  # noqa: E402,F401
from trustecon.cli import datasets  # noqa: E402,F401
from trustecon.cli import trust  # noqa: E402,F401
from trustecon.cli import report  # noqa: E402,F401
from trustecon.cli import demo  # noqa: E402,F401
from trustecon.cli import distribution  # noqa: E402,F401
from trustecon.cli import simulate  # noqa: E402,F401
from trustecon.cli import live  # noqa: E402,F401
from trustecon.cli import serve  # noqa: E402,F401
from trustecon.cli import marketing  # noqa: E402,F401

__all__ = ["app"]
