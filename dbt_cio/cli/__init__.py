"""The ``dbt-cio`` command line: thin commands over the library (:mod:`dbt_cio.cli.main`), with every flag
defined once (:mod:`dbt_cio.cli.params`)."""

from __future__ import annotations

from dbt_cio.cli.main import cli, main

__all__ = ["cli", "main"]
