"""Who is calling: checking access tokens (ES256 JWT) on each request, the caller's
principal, role and purpose checks, and the OAuth wire format they share.

It imports no feature: every feature imports it. Issuing tokens to clients is
``gateway.issuer``.
"""
