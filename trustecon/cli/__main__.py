"""``python -m trustecon.cli``: the same application as the ``trustecon`` script."""

from trustecon.cli import app

app()
