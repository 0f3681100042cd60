"""Tamper-evident audit log of the gateway, as a library importing no web framework."""
