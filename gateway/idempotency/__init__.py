"""Idempotency keys: a repeated POST returns the first answer without a second exchange."""
