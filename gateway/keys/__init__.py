"""Token signing keys: generated, sealed under the master key, rotated, published as JWKS."""
