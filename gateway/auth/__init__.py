"""Authentication (OAuth2 client credentials, ES256 JWT) and role/purpose authorisation."""
