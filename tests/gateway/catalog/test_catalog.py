"""A broken catalog stops the start with the file, line and field at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.catalog.loader import CatalogError, load_catalog
from gateway.settings import REPO_ROOT, Settings

CATALOG = REPO_ROOT / "contracts" / "policy" / "catalog.yaml"
SCHEMA = REPO_ROOT / "contracts" / "policy" / "catalog.schema.json"


def broken(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    text = CATALOG.read_text()
    assert old in text, old
    fixed = text.replace(old, new, 1)
    target = tmp_path / "catalog.yaml"
    target.write_text(fixed)
    line = fixed[: fixed.index(new)].count("\n") + 1
    return target, line


def test_committed_catalog_is_valid_and_complete() -> None:
    catalog = load_catalog(CATALOG, SCHEMA)
    assert {"affiliation", "contact", "payment", "coresponsibility-verification", "audit"} <= set(
        catalog.purposes
    )
    assert {"reniec", "osiptel", "bn", "minsa_his"} <= set(catalog.partners)
    for service in catalog.services.values():
        for grant in service.purposes.values():
            assert set(grant.fields) <= set(service.fields)
    assert all(c.retention_days > 0 for c in catalog.data_categories.values())


def test_every_committed_description_is_in_spanish_and_english() -> None:
    catalog = load_catalog(CATALOG, SCHEMA)
    texts = [
        *(b.description for b in catalog.legal_bases.values()),
        *(c.description for c in catalog.data_categories.values()),
        *(p.description for p in catalog.purposes.values()),
        *(s.description for s in catalog.services.values()),
        *(e.description for e in catalog.exchanges.values()),
    ]
    assert len(texts) == 50
    untranslated = [t.es for t in texts if t.en is None or t.en == t.es]
    assert untranslated == []
    phone = catalog.services["osiptel.phone-lines"].description
    assert phone.in_locale("es") == "Líneas móviles registradas a nombre de un documento."
    assert phone.in_locale("en") == "Mobile lines registered to a document."


def test_a_description_is_spanish_english_or_one_text_for_both(tmp_path: Path) -> None:
    old = "    description:\n      es: Identidad de una persona por su DNI.\n"
    old += "      en: Identity of a person by DNI.\n"
    # One string: the same text in every language (catalogs written before).
    target, _ = broken(tmp_path, old, "    description: Identidad por DNI.\n")
    text = load_catalog(target, SCHEMA).services["reniec.person"].description
    assert (text.in_locale("es"), text.in_locale("en")) == (
        "Identidad por DNI.",
        "Identidad por DNI.",
    )
    # Spanish only: English readers get the Spanish.
    target, _ = broken(tmp_path, old, "    description:\n      es: Identidad por DNI.\n")
    text = load_catalog(target, SCHEMA).services["reniec.person"].description
    assert text.in_locale("en") == "Identidad por DNI."
    # English only: refused, naming the line and the field.
    target, line = broken(
        tmp_path, old, "    description:\n      en: Identity of a person by DNI.\n"
    )
    with pytest.raises(CatalogError) as info:
        load_catalog(target, SCHEMA)
    problem = info.value.problems[0]
    assert problem.field == "services.reniec.person.description"
    assert problem.line == line + 1


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "    retention_days: 365",
            "    retention_days: forever",
            "data_categories.contact.retention_days",
            "'forever' is not of type 'integer'",
        ),
        (
            "        fields: [number, operator, modality]",
            "        fields: [number, operator, imei]",
            "services.osiptel.phone-lines.purposes.contact.fields.2",
            "field 'imei' is not a field of osiptel.phone-lines",
        ),
        (
            "    partner: osiptel\n",
            "    partner: movistar\n",
            "services.osiptel.phone-lines.partner",
            "unknown partner 'movistar'",
        ),
        (
            "        legal_basis: consent\n        fields: [item, verdict, due_date]",
            "        legal_basis: because\n        fields: [item, verdict, due_date]",
            "services.minsa_his.coresponsibility.purposes.coresponsibility-verification"
            ".legal_basis",
            "unknown legal basis 'because'",
        ),
    ],
    ids=["wrong-type", "undeclared-field", "unknown-partner", "unknown-basis"],
)
def test_faults_name_file_line_and_field(
    tmp_path: Path, old: str, new: str, field: str, message: str
) -> None:
    target, line = broken(tmp_path, old, new)
    with pytest.raises(CatalogError) as info:
        load_catalog(target, SCHEMA)
    problem = info.value.problems[0]
    assert problem.file == str(target)
    assert problem.field == field
    assert problem.message == message
    assert problem.line == line
    assert f"{target}:{line}: {field}: " in str(info.value)


def test_missing_required_key_and_yaml_syntax(tmp_path: Path) -> None:
    target, _ = broken(tmp_path, "    protocol: rest\n", "\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(target, SCHEMA)
    assert info.value.problems[0].field == "partners.osiptel"
    assert "'protocol' is a required property" in info.value.problems[0].message

    target.write_text("version: 1\nservices: [unclosed\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(target, SCHEMA)
    assert info.value.problems[0].line == 3
    assert "not valid YAML" in str(info.value)


def test_broken_catalog_stops_the_start(tmp_path: Path, settings: Settings) -> None:
    target, line = broken(tmp_path, "version: 1", "version: 2")
    with pytest.raises(CatalogError, match=rf"catalog.yaml:{line}: version: 1 was expected"):
        create_app(settings.model_copy(update={"catalog_file": target}))
