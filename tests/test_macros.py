"""dbt_cio.warehouse.macros and dbt_cio.warehouse.jsonsql: dbt-cio's own macros in a loaded manifest, dispatched
per warehouse, overridden by a project's ``dispatch:`` config, rendered once into templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DbtProject

from dbt_cio.project import DbtArgs, Project
from dbt_cio.warehouse.jsonsql import PLACEHOLDER, JsonSql, column_kind
from dbt_cio.warehouse.macros import PACKAGE, add_dbt_cio_macros, macro_names

OVERRIDE = """
{% macro duckdb__json_string(x) %}my_json_string({{ x }}){% endmacro %}
{% macro postgres__json_string(x) %}my_json_string({{ x }}){% endmacro %}
"""


def _load(project: DbtProject) -> Project:
    return Project.load(DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target))


def test_every_macro_is_added_once_as_package_dbt_cio(dbt_project: DbtProject) -> None:
    with _load(dbt_project) as project:
        names = macro_names()
        assert {"sql_templates", "json_string", "duckdb__json_string", "postgres__json_double"} <= set(names)
        assert len(names) == len(set(names))
        found = {m.name for m in project.manifest.macros.values() if m.package_name == PACKAGE}
        assert found == set(names)
        assert add_dbt_cio_macros(project.manifest) == 0  # already there: nothing added twice


def test_templates_render_through_the_adapter_without_a_connection(dbt_project: DbtProject) -> None:
    with _load(dbt_project) as project:
        session = project.session
        templates = session.call_macro("sql_templates", PACKAGE, x=PLACEHOLDER)
        assert session.adapter.connections.get_if_exists() is None  # rendering opened no connection
        optional = {"subquery_fence", "utf8_length_bound"}  # empty where the warehouse needs none
        assert all(PLACEHOLDER in sql for name, sql in templates.items() if name not in optional)
        assert (PLACEHOLDER in templates["utf8_length_bound"]) is (dbt_project.target == "postgres")
        string = {
            "duckdb": "to_json(cast(__cio_x__ as varchar))",
            "postgres": "to_json(cast(__cio_x__ as text))",
        }
        assert string[dbt_project.target] in templates["json_string"]


def test_a_manifest_read_from_disk_gets_the_macros_too(dbt_project: DbtProject) -> None:
    with _load(dbt_project) as project:
        assert project.reparsed  # the first load parsed the project (no manifest yet)
    with _load(dbt_project) as project:
        assert not project.reparsed  # the second read target/manifest.json as it was
        session = project.session
        session.connect()
        j = JsonSql.render(session.dialect, session.call_macro)
        assert "to_json" in j.value("email", "text")
    assert (
        "macro.dbt_cio." not in (dbt_project.path / "target" / "manifest.json").read_text()
    )  # not written back


@pytest.mark.parametrize("with_dispatch", [True, False])
def test_a_project_overrides_a_macro_with_its_dispatch_config(
    dbt_project: DbtProject, with_dispatch: bool
) -> None:
    """As for any dbt package: a project's own ``<adapter>__json_string`` is used when its ``dispatch:``
    config puts the project before dbt_cio for the dbt_cio namespace, and only then."""
    (dbt_project.path / "macros").mkdir(exist_ok=True)
    (dbt_project.path / "macros" / "cio_overrides.sql").write_text(OVERRIDE)
    if with_dispatch:
        config = dbt_project.path / "dbt_project.yml"
        config.write_text(
            config.read_text()
            + "\ndispatch:\n  - macro_namespace: dbt_cio\n    search_order: [dbt_cio_integration_tests, dbt_cio]\n"
        )
    with _load(dbt_project) as project:
        session = project.session
        session.connect()
        j = JsonSql.render(session.dialect, session.call_macro)
        assert (j.templates["json_string"] == f"my_json_string({PLACEHOLDER})") is with_dispatch
        # the override reaches every template built on it, never the others
        assert ("my_json_string" in j.value("x", "uuid")) is with_dispatch
        assert "my_json_string" not in j.value("x", "integer")


def test_macro_files_ship_with_the_package() -> None:
    import tomllib

    config = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert "macros/*.sql" in config["tool"]["setuptools"]["package-data"]["dbt_cio"]


@pytest.mark.parametrize(
    ("adapter", "dtype", "kind"),
    [
        ("duckdb", "VARCHAR", "text"),
        ("duckdb", "INTEGER", "integer"),
        ("duckdb", "HUGEINT", "integer"),
        ("duckdb", "UBIGINT", "integer"),
        ("duckdb", "DECIMAL(38,10)", "decimal"),
        ("duckdb", "DECIMAL(18,0)", "integer"),
        ("duckdb", "DOUBLE", "double"),
        ("duckdb", "FLOAT", "float4"),
        ("duckdb", "REAL", "float4"),
        ("duckdb", "BOOLEAN", "boolean"),
        ("duckdb", "TIMESTAMP", "timestamp"),
        ("duckdb", "TIMESTAMP WITH TIME ZONE", "timestamp"),
        ("duckdb", "TIMESTAMP_NS", "timestamp"),
        ("duckdb", "DATE", "date"),
        ("duckdb", "JSON", "json"),
        ("duckdb", "UUID", "uuid"),
        ("duckdb", "TIME", "other"),
        ("duckdb", "INTERVAL", "other"),
        ("duckdb", "BLOB", "other"),
        ("duckdb", "INTEGER[]", "other"),
        ("duckdb", "STRUCT(a INTEGER)", "other"),
        ("duckdb", "MAP(VARCHAR, INTEGER)", "other"),
        ("duckdb", "ENUM('a', 'b')", "other"),
        ("postgres", "character varying", "text"),
        ("postgres", "text", "text"),
        ("postgres", "character", "other"),  # char(n) is padded
        ("postgres", "integer", "integer"),
        ("postgres", "numeric", "decimal"),
        ("postgres", "double precision", "double"),
        ("postgres", "float", "double"),
        ("postgres", "real", "float4"),
        ("postgres", "timestamp without time zone", "timestamp"),
        ("postgres", "timestamp with time zone", "timestamp"),
        ("postgres", "json", "json"),
        ("postgres", "jsonb", "json"),
        ("postgres", "uuid", "uuid"),
        ("postgres", "bytea", "other"),
        ("postgres", "ARRAY", "other"),
        ("postgres", "USER-DEFINED", "other"),
        ("spark", "string", "text"),
        ("spark", "float", "float4"),
        ("spark", "decimal(10,2)", "decimal"),
        ("spark", "array<int>", "other"),
        ("snowflake", "NUMBER(38,0)", "integer"),
        ("snowflake", "FLOAT", "double"),
        ("snowflake", "VARIANT", "other"),
        ("bigquery", "INT64", "integer"),
        ("bigquery", "BIGNUMERIC", "decimal"),
        ("bigquery", "JSON", "other"),
    ],
)
def test_column_kinds(adapter: str, dtype: str, kind: str) -> None:
    assert column_kind(adapter, dtype) == kind


def test_templates_are_filled_with_an_expression(tmp_path: Path) -> None:
    from dbt_cio.warehouse.dialect import Dialect

    dialect = Dialect("duckdb", "TEXT", "BIGINT", "TIMESTAMP", "now()", ("md5(", ")"), ("concat(", ", ", ")"),
                      False, False)  # fmt: skip
    j = JsonSql(
        dialect,
        {"json_string": f"to_json({PLACEHOLDER})", "json_integer": f"f({PLACEHOLDER}, {PLACEHOLDER})"},
    )
    assert j.string('"email"') == 'to_json("email")'
    assert (
        j.value("a || b", "integer") == "f((a || b), (a || b))"
    )  # anything but a plain name is parenthesised
    assert j.value("x", "other") == "'null'"  # left to Python by the caller


def test_a_warehouse_without_the_macros_gets_none(dbt_project: DbtProject) -> None:
    """Where dbt-cio has no SQL for a warehouse its ``default__`` variants refuse, and the caller keeps the
    Python mapper: seen here through a project that sends its warehouse to the ``default__`` double."""
    (dbt_project.path / "macros").mkdir(exist_ok=True)
    (dbt_project.path / "macros" / "cio_defaults.sql").write_text(
        "{% macro duckdb__json_double(x) %}{{ dbt_cio.default__json_double(x) }}{% endmacro %}\n"
        "{% macro postgres__json_double(x) %}{{ dbt_cio.default__json_double(x) }}{% endmacro %}\n"
    )
    config = dbt_project.path / "dbt_project.yml"
    config.write_text(
        config.read_text()
        + "\ndispatch:\n  - macro_namespace: dbt_cio\n    search_order: [dbt_cio_integration_tests, dbt_cio]\n"
    )
    with _load(dbt_project) as project:
        session = project.session
        session.connect()
        assert JsonSql.render_if_available(session.dialect, session.call_macro) is None
