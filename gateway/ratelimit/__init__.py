"""Per-client request quotas that hold across every gateway process on one database."""
