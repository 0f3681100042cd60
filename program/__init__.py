"""The programme's side: JUNTOS systems that use the gateway like any other client.

Nothing here imports the gateway's internals to do its work; it speaks HTTP to the
gateway's public API with its own credentials (``program.client``). ``program.demo`` can
also start a sandbox gateway and the partner mocks in the same process to play against.
"""
