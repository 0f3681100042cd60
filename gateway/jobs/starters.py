"""Who started a job, as the job's row and every audit event of the job name it.

A pair, stored with exchange and payment runs as ``triggered_by`` and
``triggered_by_user`` and written into the job's audit events as ``client_id`` and
``user_id``:

==================  ===========================  ===================================
started by          ``triggered_by``              ``triggered_by_user``
==================  ===========================  ===================================
an API client       the client id                 its ``X-User-Id``, if it sent one
the schedule        ``schedule``                  none
the command line    ``cli``                       the operator's login name
the console         ``console``                   the console username
==================  ===========================  ===================================

A push delivery is started by the subscription's client (the subscriber), with no
person. A person's name is at most 64 characters (the ``X-User-Id`` and console
username limits); a longer login name is cut there.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

SCHEDULE = "schedule"
CLI = "cli"
CONSOLE = "console"
USER_MAX = 64


@dataclass(frozen=True)
class Starter:
    """``triggered_by``: a client id or ``schedule``, ``cli``, ``console``;
    ``triggered_by_user``: the person, or None."""

    triggered_by: str
    triggered_by_user: str | None = None

    @classmethod
    def client(cls, client_id: str, user_id: str | None = None) -> Starter:
        """A client over the API, on behalf of ``user_id`` (its ``X-User-Id``) if given."""
        return cls(client_id, user_id[:USER_MAX] if user_id else None)

    @classmethod
    def console(cls, username: str) -> Starter:
        return cls(CONSOLE, username[:USER_MAX])

    @classmethod
    def command_line(cls) -> Starter:
        """The operator at the command line, by the login name of the process's user."""
        return cls(CLI, login_name())

    @classmethod
    def schedule(cls) -> Starter:
        return cls(SCHEDULE)


def login_name() -> str | None:
    """The login name of the user running this process (``LOGNAME``, ``USER``, or the
    password database), at most 64 characters; None when none can be found."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):
        return None
    return name[:USER_MAX] or None
