"""The gateway's side of the audit log: the checkpoint signing keys, the sealer run as a
background task, and the auditors' HTTP API.

The split: ``audit/`` (top level) is the library (what an event is, the hash chain,
storing, verifying, sealing) and imports no web framework and nothing of the gateway, so
an auditor can verify a copy of the log with it alone. This package puts that library to
work inside the running gateway: its keys under the master key, its settings, its routes.
"""
