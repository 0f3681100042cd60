"""The partner look-ups of the consumer API: one governed call per question, brokered to
the right agency (``routes.py``), their batch forms (``batches.py``), their request and
answer models (``schemas.py``) and the co-responsibility rules (``rules.py``).

The audited call they all run in is ``gateway.calls``; the other features' consumer
endpoints (consent, payments, subscriptions, ...) live in their own packages.
"""
