"""``python -m dbt_cio``: the ``dbt-cio`` command."""

from dbt_cio.cli.main import main

main()
