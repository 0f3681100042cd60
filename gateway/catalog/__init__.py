"""The policy catalog: services, purposes, disclosable fields, legal bases and retention."""
