"""The SMS centre (SMSC), reached over SMPP 3.4: the ESME client and the mock SMSC."""
