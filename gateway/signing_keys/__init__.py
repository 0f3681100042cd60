"""Token signing keys (ES256): generated, sealed under the master key, rotated, published
as JWKS. The gateway has three kinds of keys, each in a module named for it: these sign
access tokens; ``gateway.core.data_keys`` encrypt personal data at rest;
``gateway.auditing.checkpoint_keys`` sign audit checkpoints and archive manifests."""
