"""SMS reminders to caregivers through the operator's SMS centre (SMPP 3.4)."""
