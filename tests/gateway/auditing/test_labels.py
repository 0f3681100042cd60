"""What an auditor's report calls the fields disclosed about a person: a label from the
catalog for every field the consent record and the bank's extracts disclose."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.auditing.labels import FIELDS, Labels
from gateway.catalog.loader import load_catalog

POLICY = Path(__file__).resolve().parents[3] / "contracts" / "policy"
# Services whose answers are a person's records, read back in a subject's disclosures.
RECORD_SERVICES = (
    "gateway.consents",
    "gateway.consent-check",
    "bn.reconciliation",
    "bn.card-deliveries",
)


@pytest.mark.parametrize("locale", ["es", "en"])
def test_every_field_of_a_persons_record_has_a_label(locale: str) -> None:
    catalog = load_catalog(POLICY / "catalog.yaml", POLICY / "catalog.schema.json")
    labels = Labels(locale, catalog)
    for service in RECORD_SERVICES:
        for purpose in catalog.services[service].purposes.values():
            for field in purpose.fields:
                assert field in FIELDS, (service, field)
    assert (
        labels.fields(["revision", "hash", "chain_intact"])
        == {
            "es": "revisión del registro, huella del registro (hash), "
            "si las revisiones del registro están inalteradas",
            "en": "revision of the record, fingerprint of the record (hash), "
            "whether the record's revisions are unaltered",
        }[locale]
    )
    assert labels.citation("consent") == "Ley 29733 arts. 5 y 13; DS 016-2024-JUS"
