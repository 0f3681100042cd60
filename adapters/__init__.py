"""Partner adapters: one sub-package per agency (client, mapping, typed errors, mock server)."""
