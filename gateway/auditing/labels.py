"""Human names, in Spanish or English, for the codes the audit log records: purposes,
legal bases, services, partners, disclosed fields, decisions and outcomes.

The log and the catalog keep stable codes (``coresponsibility-verification``,
``du-095-2020-art6``); the people who read an audit page or a disclosure report read
these names instead. Message ids are English and their translations live in the
``auditor`` catalogs (``gateway/locale/<locale>/LC_MESSAGES/auditor.po``). A code
without a name here (a service added to the catalog later, a new problem slug) is shown
as the code itself, never dropped.

    labels = Labels("es", catalog)
    labels.purpose("payment")            # "Apertura de cuenta y pago de transferencias"
    labels.legal_basis("consent")        # "Consentimiento de la persona cuidadora"
    labels.citation("consent")           # "Ley 29733 arts. 5 y 13; DS 016-2024-JUS"
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.catalog.models import Catalog
from gateway.core.i18n import gettext


def N_(message: str) -> str:  # noqa: N802 - the gettext marker extraction looks for
    """Marks ``message`` for the catalogs; translated later, in the reader's locale."""
    return message


PURPOSES = {
    "affiliation": N_("Affiliation to the DU 095-2020 intervention"),
    "contact": N_("Reaching the caregiver by phone"),
    "payment": N_("Account opening and payment of transfers"),
    "coresponsibility-verification": N_("Checking the child's health check-ups"),
    "audit": N_("Audit and oversight"),
    "health-follow-up": N_("Reminding the caregiver of a pending health service"),
}

LEGAL_BASES = {
    "du-095-2020-art6": N_("Emergency Decree 095-2020, article 6"),
    "consent": N_("Consent of the caregiver"),
    "law-29733-art14": N_("Legal functions of a public entity (Law 29733, article 14)"),
}

PARTNERS = {
    "gateway": N_("JUNTOS gateway"),
    "reniec": "RENIEC",
    "osiptel": "OSIPTEL",
    "bn": "Banco de la Nación",
    "minsa_his": "MINSA HIS",
    "smsc": N_("SMS centre of the mobile operator"),
}

SERVICES = {
    "reniec.person": N_("Identity by DNI"),
    "reniec.identity-verification": N_("Identity check against the registry"),
    "reniec.newborns": N_("Register of newborn children"),
    "reniec.birth-events": N_("Births sent by RENIEC"),
    "reniec.birth-notices": N_("Birth notices"),
    "osiptel.phone-lines": N_("Mobile phone lines"),
    "osiptel.lines-refresh": N_("Refresh of mobile phone lines"),
    "osiptel.line-changes": N_("Line changes sent by OSIPTEL"),
    "osiptel.line-notices": N_("Mobile line change notices"),
    "bn.account-opening": N_("Bank account opening"),
    "bn.account": N_("Bank account status"),
    "bn.payments": N_("Payment of transfers"),
    "bn.payment-status": N_("Payment status sent by the bank"),
    "bn.settlements": N_("Debit notices sent by the bank"),
    "bn.reconciliation": N_("Bank reconciliation"),
    "bn.card-deliveries": N_("Debit cards delivered by the bank"),
    "minsa_his.health-services": N_("Health services given to the child"),
    "minsa_his.coresponsibility": N_("Health check-ups required by the programme"),
    "minsa_his.records-push": N_("Health records sent by MINSA"),
    "minsa_his.record-notices": N_("Health record notices"),
    "minsa_his.health-extract": N_("Extract of health services"),
    "smsc.reminders": N_("SMS reminders to caregivers"),
    "gateway.audit-events": N_("Audit log search"),
    "gateway.audit-verification": N_("Audit chain verification"),
    "gateway.audit-checkpoints": N_("Signed checkpoints of the audit log"),
    "gateway.consents": N_("Consent register"),
    "gateway.consent-check": N_("Consent check"),
    "gateway.subject-disclosures": N_("Disclosure report"),
    "console.audit-search": N_("Console: audit log search"),
    "console.audit-export": N_("Console: audit log export"),
    "console.audit-verify": N_("Console: audit chain verification started"),
    "console.audit-verify-result": N_("Console: audit chain verification finished"),
    "console.disclosure-report": N_("Console: disclosure report"),
    "console.disclosure-report-pdf": N_("Console: disclosure report as PDF"),
    "gateway.retention-purge": N_("Deletion of data past its retention period"),
}

# Who started a job when it was not a client (``gateway.jobs.starters``): an event's
# ``client_id`` holds one of these codes and its ``user_id`` the person, if any.
STARTERS = {
    "schedule": N_("Automatic schedule"),
    "cli": N_("Command line"),
    "console": N_("Console"),
}

FIELDS = {
    "dni": N_("DNI"),
    "cui": N_("CUI"),
    "first_surname": N_("first surname"),
    "second_surname": N_("second surname"),
    "given_names": N_("given names"),
    "address": N_("address"),
    "marital_status": N_("marital status"),
    "place_name": N_("place of residence (department, province, district)"),
    "ubigeo": N_("district code (ubigeo)"),
    "ubigeo_inei": N_("district of birth"),
    "restriction": N_("restriction on the DNI"),
    "photo": N_("photograph"),
    "match": N_("identity check result"),
    "mismatched_fields": N_("data that did not match"),
    "unverified_fields": N_("data that could not be checked"),
    "cnv": N_("live-birth certificate number"),
    "birth_date": N_("date of birth"),
    "sex": N_("sex"),
    "birth_weight_g": N_("birth weight"),
    "health_facility": N_("health facility of birth"),
    "mother_dni": N_("mother's DNI"),
    "mother_names": N_("mother's names"),
    "child_names": N_("child's names"),
    "social_programs": N_("social programmes"),
    "alive": N_("whether alive"),
    "number": N_("phone number"),
    "phone": N_("phone number"),
    "message": N_("text message"),
    "operator": N_("phone operator"),
    "modality": N_("line type (prepaid or postpaid)"),
    "change": N_("line change"),
    "effective_date": N_("date of the change"),
    "account_number": N_("account number"),
    "cci": N_("interbank account code (CCI)"),
    "status": N_("status"),
    "opened_at": N_("account opening date"),
    "appointment_id": N_("appointment number"),
    "service_date": N_("date of the health service"),
    "facility": N_("health facility"),
    "item_code": N_("health service given"),
    "diagnosis_type": N_("type of diagnosis"),
    "lab_value": N_("test result"),
    "weight": N_("weight"),
    "height": N_("height"),
    "hemoglobin": N_("haemoglobin"),
    "item": N_("required health service"),
    "verdict": N_("whether it was given"),
    "due_date": N_("due date"),
    "caregiver_dni": N_("caregiver's DNI"),
    "purposes": N_("purposes consented to"),
    "data_categories": N_("kinds of data consented to"),
    "legal_basis": N_("legal basis"),
    "agreement_id": N_("commitment agreement"),
    "agreement_version": N_("agreement version"),
    "channel": N_("channel of consent"),
    "evidence": N_("evidence of consent"),
    "agent_id": N_("agent who took the consent"),
    "state": N_("state"),
    "granted_at": N_("date consent was given"),
    "expires_at": N_("expiry date"),
    "revoked_at": N_("revocation date"),
    "revocation_reason": N_("reason for revocation"),
    "revision": N_("revision of the record"),
    "hash": N_("fingerprint of the record (hash)"),
    "revisions": N_("earlier revisions of the record"),
    "chain_intact": N_("whether the record's revisions are unaltered"),
    "id": N_("record identifier"),
    "msg_id": N_("payment message reference"),
    "delivered_on": N_("date the debit card was delivered"),
    "purpose": N_("purpose"),
    "active": N_("whether consent is active"),
    "end_to_end_id": N_("payment reference"),
    "amount": N_("amount"),
    "booking_date": N_("booking date"),
    "name": N_("account holder's name"),
}

DECISIONS = {
    "allowed": N_("allowed"),
    "denied": N_("denied"),
    "void": N_("void (number never used)"),
}

# Outcomes, and the problem slugs an event names as its reason.
OUTCOMES = {
    "ok": N_("completed"),
    "denied": N_("refused"),
    "error": N_("gateway error"),
    "replayed": N_("repeated request, first answer returned"),
    "partial": N_("partly completed"),
    "finished": N_("finished"),
    "broken": N_("chain broken"),
    "validation-error": N_("invalid request"),
    "bad-request": N_("invalid request"),
    "rate-limited": N_("quota exceeded"),
    "internal-error": N_("gateway error"),
    "not-found": N_("not found"),
    "consent-required": N_("no consent"),
    "purpose-not-granted": N_("purpose not granted to the client"),
    "purpose-not-allowed": N_("purpose not allowed for this data"),
    "role-not-granted": N_("role not granted to the client"),
    "invalid-token": N_("invalid token"),
    "partner-error": N_("partner error"),
    "partner-not-found": N_("not found at the partner"),
    "partner-invalid-input": N_("refused by the partner as invalid"),
    "partner-refused": N_("refused by the partner"),
    "partner-unavailable": N_("partner unavailable"),
    "partner-timeout": N_("partner did not answer in time"),
    "partner-malformed-response": N_("partner answered badly"),
    "partner-circuit-open": N_("partner paused after repeated failures"),
    "partner-busy": N_("partner busy"),
    "webhook-failed": N_("not accepted by the subscriber's address"),
}

SUBJECT_ROLES = {
    "dni": N_("by DNI"),
    "cui": N_("by CUI (as a child)"),
}


class Labels:
    """The names in ``locale`` (``es`` or ``en``; others get Spanish), with the
    catalog's citations of the legal bases when a ``catalog`` is given."""

    def __init__(self, locale: str, catalog: Catalog | None = None) -> None:
        self.locale = locale
        self.catalog = catalog

    def text(self, message: str) -> str:
        """Any message id of the catalogs in this locale."""
        return gettext(message, self.locale)

    def _named(self, names: dict[str, str], code: str | None) -> str:
        if not code:
            return ""
        return self.text(names[code]) if code in names else code

    def purpose(self, code: str | None) -> str:
        return self._named(PURPOSES, code)

    def legal_basis(self, code: str | None) -> str:
        return self._named(LEGAL_BASES, code)

    def citation(self, code: str | None) -> str | None:
        """The legal basis as the catalog cites it (``DU 095-2020 art. 6``)."""
        if self.catalog is None or code is None or code not in self.catalog.legal_bases:
            return None
        return self.catalog.legal_bases[code].citation

    def service(self, code: str | None) -> str:
        """A console action without a name of its own reads ``Console: <action>``."""
        if code and code not in SERVICES and code.startswith("console."):
            return self.text(N_("Console: {action}")).format(action=code.removeprefix("console."))
        return self._named(SERVICES, code)

    def starter(self, code: str | None) -> str | None:
        """The name of a job's starter that is not a client (the schedule, the command
        line, the console), or None for a client id."""
        return self.text(STARTERS[code]) if code in STARTERS else None

    def partner(self, code: str | None) -> str:
        return self._named(PARTNERS, code)

    def field(self, code: str) -> str:
        return self._named(FIELDS, code)

    def fields(self, codes: Iterable[str]) -> str:
        """The fields' names, comma-separated, in the order given."""
        return ", ".join(self.field(c) for c in codes)

    def decision(self, code: str | None) -> str:
        return self._named(DECISIONS, code)

    def outcome(self, code: str | None) -> str:
        return self._named(OUTCOMES, code)

    def reason(self, code: str | None) -> str:
        """Why an event was refused or failed (a problem or partner slug) by its name;
        any other reason (a console action's detail) as recorded."""
        return self._named(OUTCOMES, code)

    def subject_roles(self, codes: Iterable[str]) -> str:
        return ", ".join(self._named(SUBJECT_ROLES, c) for c in codes)
