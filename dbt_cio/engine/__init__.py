"""The orchestration: what a run of ``dbt-cio sync`` does, built on the contract, warehouse and Customer.io layers.

- ``options`` — :class:`~dbt_cio.engine.options.SyncOptions`, a run's frozen configuration;
- ``results`` — :class:`~dbt_cio.engine.results.RunResult` and one
  :class:`~dbt_cio.engine.results.SyncResult` per sync: what happened;
- ``observer`` — the few calls the engine makes to show progress (a terminal reporter, or logging);
- ``run`` — one sync's run: diff, map, send, commit acknowledged rows, record rejections;
- ``segments``, ``collections`` — finding (or creating) a sync's segment or collection;
- ``artifacts`` — the run-results file a run leaves in ``target/``;
- ``runner`` — :func:`~dbt_cio.engine.runner.run_sync` and
  :func:`~dbt_cio.engine.runner.validate_project`, the library entries.
"""
