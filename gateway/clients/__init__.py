"""Client registry: who may call the gateway, in which roles, for which purposes."""
