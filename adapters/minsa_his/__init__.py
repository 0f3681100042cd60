"""MINSA HIS: health services registered per child, and the bulk extract."""
