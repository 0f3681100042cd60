"""The programme's side: JUNTOS systems that use the gateway like any other client.

Nothing here imports the gateway's or the adapters' code: it speaks HTTP to the
gateway's public API with its own credentials (``program.client``) and reads its own
registers as files (``program.registers``). Starting a sandbox gateway and the partner
mocks in process to play against is the CLI's ``demo`` command (``gateway.cli.sandbox``).
"""
