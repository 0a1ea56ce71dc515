"""Every write and use case of the app, one module per aggregate.

Views, serializers, commands and tasks validate input and call these functions; nothing
else writes to the database. Failures a user can cause raise :class:`errors.ServiceError`
subclasses, which the API turns into 4xx responses with a stable ``code``.
"""
