"""How the service runs: the `gophermart` console script, the embedded gunicorn and the
all-in-one supervisor."""
