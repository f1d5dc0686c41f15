"""Every write of the engine; each status move in one database transaction, journaled."""
