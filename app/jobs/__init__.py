"""RQ entry points: thin, take ids, idempotent, fail loudly. Enqueued only after commit."""
