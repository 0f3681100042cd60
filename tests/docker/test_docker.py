"""Static checks of the container files (no Docker engine is needed to run them)."""

from __future__ import annotations

import re

import yaml
from sqlalchemy.engine import make_url

from gateway.settings import REPO_ROOT

DOCKER = REPO_ROOT / "docker"


def test_compose_runs_gateway_on_postgres_with_health_checks() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "gateway"}

    gateway, postgres = services["gateway"], services["postgres"]
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert "/readyz" in " ".join(gateway["healthcheck"]["test"])
    assert (REPO_ROOT / gateway["build"]["context"].replace("..", ".")).is_dir()
    assert gateway["build"]["dockerfile"] == "docker/Dockerfile"

    env = gateway["environment"]
    url = make_url(re.sub(r"\$\{[^}]*\}", "secret", env["GATEWAY_DATABASE_URL"]))
    assert url.get_backend_name() == "postgresql"
    assert url.host == "postgres"
    assert url.port == 5432
    assert url.database == postgres["environment"]["POSTGRES_DB"]
    assert url.username == postgres["environment"]["POSTGRES_USER"]
    # Secrets are required from the environment, never written in the file.
    assert env["GATEWAY_MASTER_KEY"].startswith("${GATEWAY_MASTER_KEY:?")
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert env["GATEWAY_ENV"] != "sandbox"


def test_dockerfile_is_slim_non_root_and_secret_free() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert froms
    assert all(image.endswith("-slim") for image in froms)
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users
    assert not users[-1].startswith(("root", "0"))
    assert "HEALTHCHECK" in text
    assert not re.search(r"(MASTER_KEY|PASSWORD|SECRET)\s*=", text)
    for copied in re.findall(r"^COPY (?!--from)(\S+)", text, re.MULTILINE):
        assert (REPO_ROOT / copied).exists(), copied
