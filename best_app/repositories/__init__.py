"""Async data functions; each takes the request's `AsyncSession`, never sees a request, and
returns plain rows (`rows.py`), never mapped entities.

The transaction rule (one way, for every write): a function that writes runs all of its
statements inside `async with session.begin():`. The block commits when it ends and rolls back
if anything in it raises, so the function's work is all or nothing; never call `commit()` or
`rollback()` by hand. A function that reads before it writes does the read inside the block
too. Reads alone need no block: a read through the session begins a transaction that closing
the session at the end of the request rolls back; a hot read (`compiled.py`) outside a block
borrows a pool connection for its one statement.

Two marked exceptions, measured and switched by `FASTPATH` (`best_app.fastpath`):
`cars.buy_car`, a single statement, is sent alone in autocommit, and
`users.register_user_if_not_exist` sends its read alone before opening its block. Do not copy
them.
"""
