"""The warehouse side: everything dbt-cio does in the user's warehouse, only through the dbt adapter.

- ``thread`` — the one thread every warehouse call runs on (dbt adapter connections are per thread);
- ``session`` — :class:`~dbt_cio.warehouse.session.WarehouseSession`: connection, transactions, queries,
  error translation and the SQL dialect, over one adapter; the only module that calls the adapter;
- ``sql`` — pure builders of every statement dbt-cio sends;
- ``tables`` — the state schema and its shared tables; ``changes`` — a diff's rows and counts;
- ``state`` — per-sync state and diffs; ``records`` — runs, rejections and sync metadata;
  ``locks`` — one run of a sync at a time.
"""
