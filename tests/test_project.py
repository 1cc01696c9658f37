"""dbt_cio.project: dbt flags, profile and manifest loading, selection with dbt's own selector, columns.

Most tests only parse (no warehouse) and run on DuckDB; the ones that read a relation run on both targets.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import DbtProject

from dbt_cio.errors import UsageError
from dbt_cio.project import DbtArgs, Project

duckdb_only = pytest.mark.parametrize("target", ["duckdb"])
TAGGED_CIO = ["cio_companies", "cio_company_members", "cio_devices", "cio_orders", "cio_page_views", "cio_people",
              "cio_people_by_email", "cio_pro_customers", "cio_products"]  # fmt: skip


def args_for(project: DbtProject, **kw: object) -> DbtArgs:
    return DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target, **kw)  # type: ignore[arg-type]


def names(nodes: list[dict]) -> list[str]:
    return [n["name"] for n in nodes]


@duckdb_only
def test_without_selection_every_model_with_a_block_is_selected(dbt_project: DbtProject) -> None:
    project = Project.load(args_for(dbt_project))
    assert project.reparsed  # no target/manifest.json yet: dbt parsed the project and wrote one
    assert (dbt_project.path / "target" / "manifest.json").is_file()
    nodes, notes = project.selected_nodes()
    with_block = [n["name"] for n in project.all_nodes() if n["config"]["meta"].get("customerio")]
    assert names(nodes) == with_block and notes == []
    assert set(TAGGED_CIO) <= set(names(nodes)) and "not_synced" not in names(nodes)
    assert "not_synced" in names(project.all_nodes())
    people = next(n for n in nodes if n["name"] == "cio_people")
    assert people["config"]["meta"]["customerio"]["type"] == "person" and people["relation_name"]
    assert project.state_schema == "main_dbt_cio" and project.target_name == "duckdb"
    assert project.target_dir == dbt_project.path / "target"


@duckdb_only
def test_select_exclude_and_selector_mean_what_they_mean_to_dbt(dbt_project: DbtProject) -> None:
    Project.load(args_for(dbt_project))  # parse once
    events = Project.load(args_for(dbt_project, select=("tag:cio_events",)))
    assert not events.reparsed  # the manifest is current: no parse
    assert names(events.selected_nodes()[0]) == ["cio_orders", "cio_page_views"]

    nodes, notes = Project.load(args_for(dbt_project, select=("cio_people", "not_synced"))).selected_nodes()
    assert names(nodes) == ["cio_people"]
    assert notes == ["model 'not_synced' is selected but has no meta.customerio block: skipped"]

    nodes, _ = Project.load(
        args_for(dbt_project, select=("tag:cio",), exclude=("tag:cio_events", "cio_devices"))
    ).selected_nodes()
    assert names(nodes) == [n for n in TAGGED_CIO if n not in ("cio_orders", "cio_page_views", "cio_devices")]

    nodes, notes = Project.load(args_for(dbt_project, select=("+cio_people",))).selected_nodes()
    assert names(nodes) == ["cio_people"] and notes == []  # the seed upstream is not a model: ignored

    _, notes = Project.load(args_for(dbt_project, select=("tag:nothing_has_this",))).selected_nodes()
    assert notes == ["the selection matched no models"]

    (dbt_project.path / "selectors.yml").write_text(
        "selectors:\n"
        "  - name: people_only\n"
        "    definition:\n"
        "      union: [{method: fqn, value: cio_people}, {method: fqn, value: cio_people_by_email}]\n"
    )
    with_selector = Project.load(args_for(dbt_project, selector="people_only"))
    assert with_selector.reparsed  # selectors.yml is newer than the manifest
    assert names(with_selector.selected_nodes()[0]) == ["cio_people", "cio_people_by_email"]

    with pytest.raises(UsageError, match="people_too"):
        Project.load(args_for(dbt_project, selector="people_too")).selected_nodes()
    with pytest.raises(UsageError, match="selection"):
        Project.load(args_for(dbt_project, select=("nosuchmethod:x",))).selected_nodes()


@duckdb_only
def test_a_default_selector_applies_when_nothing_is_selected(dbt_project: DbtProject) -> None:
    (dbt_project.path / "selectors.yml").write_text(
        "selectors:\n  - name: events\n    default: true\n    definition: {method: tag, value: cio_events}\n"
    )
    assert names(Project.load(args_for(dbt_project)).selected_nodes()[0]) == ["cio_orders", "cio_page_views"]


@duckdb_only
def test_a_changed_project_file_makes_the_manifest_stale(dbt_project: DbtProject) -> None:
    Project.load(args_for(dbt_project))
    assert not Project.load(args_for(dbt_project)).reparsed
    manifest = dbt_project.path / "target" / "manifest.json"
    earlier = (dbt_project.path / "models" / "not_synced.sql").stat().st_mtime - 10
    os.utime(manifest, (earlier, earlier))  # as if the model was edited after the last parse
    assert Project.load(args_for(dbt_project)).reparsed
    assert not Project.load(args_for(dbt_project)).reparsed
    vars_given = Project.load(args_for(dbt_project, vars={"dbt_cio_state_schema": "elsewhere"}))
    assert vars_given.reparsed and vars_given.state_schema == "elsewhere"
    assert Project.load(args_for(dbt_project, vars='{"dbt_cio_state_schema": "s2"}')).state_schema == "s2"
    assert Project.load(args_for(dbt_project, state_schema="explicit")).state_schema == "explicit"


@duckdb_only
def test_vars_reuse_the_manifest_of_the_dbt_command_that_ran_with_them(dbt_project: DbtProject) -> None:
    vars_ = '{"dbt_cio_state_schema": "from_run"}'
    dbt_project.dbt(
        "run", "--select", "not_synced", "--vars", vars_
    )  # writes manifest.json and run_results.json
    same = Project.load(
        args_for(dbt_project, vars="{dbt_cio_state_schema: from_run}")
    )  # the same vars, as YAML
    assert not same.reparsed and same.state_schema == "from_run"
    other = Project.load(args_for(dbt_project, vars={"dbt_cio_state_schema": "other"}))
    assert other.reparsed and other.state_schema == "other"
    assert other.reparse_reason == "--vars differ from those of the dbt command that wrote the manifest"
    dbt_project.dbt("run", "--select", "not_synced", "--vars", vars_)
    (dbt_project.path / "target" / "run_results.json").unlink()  # nothing says which vars the manifest had
    assert Project.load(args_for(dbt_project, vars=vars_)).reparsed
    assert not Project.load(args_for(dbt_project)).reparsed  # without --vars the manifest is used as it is


@duckdb_only
def test_a_manifest_for_another_target_is_not_used(
    dbt_project: DbtProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    Project.load(args_for(dbt_project))  # parsed for duckdb
    monkeypatch.setenv("DBT_CIO_PG_SCHEMA", "dbt_cio_never_built")
    pg = Project.load(DbtArgs(project_dir=dbt_project.path, profiles_dir=dbt_project.path, target="postgres"))
    assert pg.reparsed and pg.adapter_type == "postgres"
    assert pg.state_schema == "dbt_cio_never_built_dbt_cio"
    monkeypatch.setenv("DBT_CIO_PG_SCHEMA", "dbt_cio_other_schema")
    assert Project.load(
        DbtArgs(project_dir=dbt_project.path, profiles_dir=dbt_project.path, target="postgres")
    ).reparsed


@duckdb_only
def test_profiles_dir_from_the_environment_and_env_var_in_profiles(
    dbt_project: DbtProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    shutil.move(str(dbt_project.path / "profiles.yml"), profiles / "profiles.yml")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(profiles))
    monkeypatch.setenv("DBT_CIO_DUCKDB_PATH", str(tmp_path / "elsewhere.duckdb"))
    project = Project.load(DbtArgs(project_dir=dbt_project.path))
    assert project.database == "elsewhere"  # env_var() read now, not when dbt was first imported
    with pytest.raises(UsageError, match="project-dir"):
        Project.load(DbtArgs(project_dir=tmp_path / "nowhere"))
    with pytest.raises(UsageError, match="profile"):
        Project.load(DbtArgs(project_dir=dbt_project.path, target="no_such_target"))


def test_columns_of_reads_the_relation(built_project: DbtProject) -> None:
    with Project.load(args_for(built_project)) as project:
        nodes = {n["name"]: n for n in project.all_nodes()}
        assert project.columns_of(nodes["cio_people_by_email"]) == ["email", "current_plan", "is_active"]
        ghost = dict(nodes["not_synced"], alias="never_built", name="never_built")
        assert project.columns_of(ghost) is None
        expected = "main_dbt_cio" if built_project.target == "duckdb" else f"{built_project.schema}_dbt_cio"
        assert project.state_schema == expected
        assert "credentials" not in repr(project).lower() and "password" not in repr(project).lower()
    with Project.load(args_for(built_project)) as again:  # a second project in the same process
        assert again.columns_of(nodes["cio_companies"]) == [
            "company_id",
            "company_name",
            "industry",
            "employees",
        ]
