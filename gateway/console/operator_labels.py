"""The words the operator's pages use for the gateway's code names, as English message
ids marked for the catalogs (``operator.po``) and translated when a page is rendered in
the reader's locale (``{{ _(label) }}`` in the templates).

Code names (``half-open``, ``reniec-newborns``, ``partner-unavailable``) stay in the
pages beside their label where an operator may need them to search logs or metrics.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks ``message`` for the catalogs; the page translates it in the reader's locale."""
    return message


PARTNERS = {
    "reniec": N_("RENIEC (civil registry)"),
    "osiptel": N_("OSIPTEL (telecom regulator)"),
    "bn": N_("Banco de la Nación (state bank)"),
    "minsa_his": N_("MINSA HIS (health information system)"),
    "smsc": N_("SMS centre of the mobile operator"),
}

# The breaker's state: (label, what it means for calls).
BREAKER = {
    "closed": (
        N_("closed"),
        N_("Calls go through normally."),
    ),
    "open": (
        N_("open"),
        N_(
            "The partner failed several times in a row: calls are refused at once, "
            "without trying, until a short wait ends; then one test call checks "
            "whether it is back."
        ),
    ),
    "half-open": (
        N_("half-open"),
        N_("One test call is checking whether the partner is back; the others wait."),
    ),
}

# Problem slugs a partner call may end with.
PARTNER_ERRORS = {
    "partner-error": N_("partner error"),
    "partner-not-found": N_("not found at the partner"),
    "partner-invalid-input": N_("the partner refused the request as invalid"),
    "partner-refused": N_("the partner refused the gateway's credentials or quota"),
    "partner-unavailable": N_("partner unavailable"),
    "partner-timeout": N_("no answer in time"),
    "partner-malformed-response": N_("unreadable answer"),
    "partner-contract-mismatch": N_("answer does not follow the contract"),
    "partner-circuit-open": N_("refused by the open breaker"),
    "partner-busy": N_("too many calls in flight"),
}

# What the TCP probe found (``gateway.partners.reachability``).
REACH = {
    None: N_("accepts connections"),
    "connection refused": N_("connection refused: nothing listens at this address"),
    "timed out": N_("no answer to the connection in time"),
    "name not resolved": N_("the host name does not resolve"),
    "unreachable": N_("network unreachable"),
    "no address": N_("no address configured"),
}

EXCHANGES = {
    "reniec-newborns": N_("Newborns of the day (RENIEC)"),
    "minsa-his-extract": N_("Health services of the month (MINSA HIS)"),
    "osiptel-refresh": N_("Caregivers' phone lines (OSIPTEL)"),
    "bn-reconciliation": N_("Debits booked on the programme's account (Banco de la Nación)"),
    "bn-card-deliveries": N_("Debit cards delivered to account holders (Banco de la Nación)"),
}

# Who started a run when it was not a client (``gateway.jobs.starters``); a client is
# shown by its id.
STARTERS = {
    "schedule": N_("the schedule"),
    "cli": N_("command line"),
    "console": N_("console"),
}

RUN_STATES = {
    "queued": N_("queued"),
    "running": N_("running"),
    "succeeded": N_("finished"),
    "done": N_("finished"),
    "failed": N_("failed"),
}

FEEDS = {
    "births": N_("Births (RENIEC)"),
    "health-records": N_("Health records (MINSA HIS)"),
    "payment-status": N_("Payment statuses (Banco de la Nación)"),
    "settlements": N_("Settled payments (Banco de la Nación)"),
    "line-changes": N_("Phone line changes (OSIPTEL)"),
}

MESSAGE_STATES = {
    "receiving": N_("being received"),
    "accepted": N_("received"),
}

CLIENT_ROLES = {
    "consumer": N_("programme system (look-ups and extracts)"),
    "partner": N_("partner agency (pushes data)"),
    "auditor": N_("auditor (reads the audit log)"),
    "admin": N_("administrator (manages clients over the API)"),
}

PAYMENT_ITEM_STATES = {
    "paid": N_("paid"),
    "rejected": N_("rejected"),
    "pending": N_("pending"),
}

# ISO 20022 reason codes the bank gives for a rejected transfer (DOMAIN.md).
BANK_REASONS = {
    "AC01": N_("wrong account number"),
    "AC04": N_("account closed"),
    "AM04": N_("insufficient funds"),
    "AM05": N_("duplicate payment"),
}

SIGNING_KEY_STATES = {
    "active": N_("signing"),
    "published": N_("retired, still verifies tokens issued before"),
    "withdrawn": N_("retired, no longer published"),
}

CHECKPOINT_KEY_STATES = {
    "current": N_("signing new checkpoints"),
    "earlier": N_("retired, verifies the checkpoints it signed"),
}


def label(table: dict[str, str], code: str | None) -> str:
    """The label of ``code`` in ``table``, or the code itself when there is none."""
    if code is None:
        return ""
    return table.get(code, code)
