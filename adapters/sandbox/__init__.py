"""The partner sandbox shared by the four mock agencies.

A deterministic synthetic population (so every mock sees the same person the same way),
the district table it lives in, fault injection, and the runner that starts the mocks.
Only mocks, tests, benchmarks and the CLI use it; the gateway core never does.
"""
