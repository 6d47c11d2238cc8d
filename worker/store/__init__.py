"""The database queries: plan facts, status, contacts, the ledger and job runs."""
