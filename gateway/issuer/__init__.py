"""The authorization server: ``POST /v1/token``, the JWKS and the server metadata.

It trades a registered client's credentials (``gateway.clients``) for a signed token.
Checking a token on each request is ``gateway.auth``, which every feature imports; this
package sits above the clients so that ``gateway.auth`` needs neither.
"""
