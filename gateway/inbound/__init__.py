"""Data pushed by partner agencies: durable, idempotent by message id, receipted."""
