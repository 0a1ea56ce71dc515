"""Django's SQLite backend, with write transactions that wait for the lock by retrying every 2 ms at most (``base``)."""
