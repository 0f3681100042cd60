"""Payment runs: a roll of transfers paid through ISO 20022, at most once each."""
