"""Distribution of pushed data to programme systems: webhooks or pull with ack."""
