"""OSIPTEL (telecom regulator): mobile lines registered to an identity document."""
