"""JUNTOS interoperability gateway: one governed API between the programme and its partner agencies.

The packages follow the feature layout of ``ARCHITECTURE.md``: each feature owns its
routes, service, repository and schemas; ``gateway.core`` holds what every feature shares.
"""

__version__ = "0.1.0"
