"""``python -m gateway.cli``: the same commands as ``juntos-gateway``."""

from gateway.cli.main import app

app()
