"""``python -m trustecon.cli``: the same application as the ``trustecon`` script."""

from trustecon.cli import app

if __name__ == "__main__":
    app()
