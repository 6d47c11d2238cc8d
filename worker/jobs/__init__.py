"""The jobs: each declared once (rules, templates, ledger key, schedule key) and run through one pipeline."""
