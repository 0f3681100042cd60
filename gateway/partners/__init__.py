"""Partner ports: what the gateway needs from each agency, independent of protocol.

The gateway core talks only to the Protocols in ``ports`` with the canonical types of
``models`` and the errors of ``errors``; adapters in ``adapters/<partner>/`` implement
them and are registered at start-up by the wiring named in settings.
"""
