"""Django's SQLite backend, with write transactions that wait for the lock by polling (``base``)."""
