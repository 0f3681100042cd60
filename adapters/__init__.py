"""Partner adapters: one sub-package per agency (settings, client, mapping to typed
errors, mock server), the wiring that registers the real clients (``wiring``), and an
in-process alternative for tests (``fakes``, selected by ``GATEWAY_ADAPTERS``)."""
