"""Step types: the base class, the context, the registry and the built-ins."""
