"""Periodic exchanges: durable, chunked, resumable jobs the gateway runs itself."""
