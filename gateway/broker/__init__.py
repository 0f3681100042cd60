"""The consumer API: one governed call per question, brokered to the right agency."""
