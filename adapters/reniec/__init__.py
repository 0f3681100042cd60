"""RENIEC (civil registry): PIDE ``consultar`` over SOAP 1.1 and the newborn extract."""
