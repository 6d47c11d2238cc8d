"""The jobs: each declared once (rules, templates, ledger name, schedule key) and run
through one pipeline (worker/jobs/pipeline.py)."""
