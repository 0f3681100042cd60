"""``juntos-gateway``: serve the gateway and administer it from a shell.

One module per command group (``serve``, ``db``, ``clients``, ``users``, ``keys``,
``catalog`` and ``contract``, ``audit``, ``exchanges``, ``partners``, ``purge``,
``demo``), assembled by :mod:`gateway.cli.main`; the sandbox's own commands
(``mocks``, ``population``) come from :mod:`gateway.cli.population`. The CLI works on
the same services as the HTTP API, inside one transaction per command.
"""

from gateway.cli.main import app

__all__ = ["app"]
