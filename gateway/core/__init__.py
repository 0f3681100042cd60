"""Cross-cutting pieces shared by every feature: settings, storage, errors, logging, crypto."""
