"""The gateway's side of the audit log: signing keys, the sealer, the auditors' API."""
