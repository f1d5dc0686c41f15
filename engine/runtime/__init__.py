"""The only code that knows django-q2: dispatch, the task entry points, the executor, the node."""
