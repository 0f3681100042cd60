"""Tamper-evident audit log of the gateway, as a library importing no web framework.

``events`` defines what is recorded, ``store`` appends and reads it.

It imports nothing of the gateway, so it verifies a copy of the log alone; running it
inside the gateway (the sealer task, checkpoint keys, the auditors' API) is
``gateway.auditing``.
"""
