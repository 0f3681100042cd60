"""Idempotency keys: a repeated POST returns the first answer without calling the partner again."""
