"""Tamper-evident audit log of the gateway, as a library importing no web framework.

``events`` defines what is recorded, ``store`` appends and reads it.
"""
