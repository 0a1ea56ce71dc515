"""Django's SQLite backend whose write transactions queue for the database (see ``base``)."""
