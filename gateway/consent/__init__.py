"""The consent registry: commitment agreements accepted in the affiliation call."""
