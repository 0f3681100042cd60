"""Banco de la Nación: Cuenta DNI accounts and ISO 20022 bulk payments."""
