"""The audited per-request call every consumer endpoint shares.

``audited.py`` authorises a call by the catalog, checks consent through a protocol the
consent register satisfies, projects the answer to the granted fields and leaves one
audit event; ``caller.py`` is the request dependency that opens one; ``validation.py``
turns malformed identifiers into problems naming the field; ``answers.py`` documents the
answer envelopes. It depends on no feature package: features depend on it.
"""
