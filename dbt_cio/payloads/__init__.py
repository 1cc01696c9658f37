"""Rows of a sync turned into what Customer.io receives: pure functions, no I/O.

- ``mappers`` — one mapper per sync type: a diff row to the Track API operation(s) it needs;
- ``collections`` — a collection sync's rows as the contents of one collection, size-checked.
"""
