"""The state layer: the only code that writes `Transaction.status`.

One module per transition, each with its general path (the ORM, any database) and, beside it, its
one-statement path on PostgreSQL (`statements.fast_paths()`), whose source statuses come from
`engine.states` and are checked against `can_move` when the module loads:

- `start`: a new transaction, queued.
- `claim`: queued to running, with its first step run.
- `advance`: the next step runs under the same lease (running stays running), or the step is parked.
- `sleep`: running to sleeping, with its sleeper.
- `wake`: sleeping to queued (one, many, the due timers, a switch's first value).
- `requeue`: back to the queue (a checkpoint that must not go on here, a lost worker, a retry).
- `finish`: to an end; a cancel.
- `move`: the general writer they share.

A transition never runs a follow-up. A finish returns a `Finished` record and its caller hands it to
`engine.services.followups`, after the transition, in the same database transaction.
"""
