"""Async data functions; each takes the request's `AsyncSession`, never sees a request, and
returns plain rows (`rows.py`), never mapped entities.

The transaction rule (one way, for every write): a function that writes runs all of its
statements inside `async with session.begin():`. The block commits when it ends and rolls back
if anything in it raises, so the function's work is all or nothing; never call `commit()` or
`rollback()` by hand. A function that reads before it writes does the read inside the block
too. Reads alone need no block: a read outside a block (`query.read`, `query.read_one`)
borrows a pool connection for its one statement. Every statement goes through SQLAlchemy
(`query.py` says where each runs); a statement inside `session.begin()` is always inside the
block's database transaction.

One marked exception, off unless `FASTPATH` names `alone` (installed from above by the
factory, `best_app.fastpath`): `cars.buy_car`, a single statement, is sent alone in
autocommit on the driver. Do not copy it. (`users.register_user_if_not_exist` reads before
its block as an optimisation, never as the guard: the insert in the block is.)
"""
