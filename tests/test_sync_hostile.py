"""Hostile rows: each is either sent faithfully or rejected with a reason, and the rest of the sync goes through."""

from __future__ import annotations

import math

from conftest import DbtProject, RunningEmulator, open_state, run_cli
from run_results import read_results, status

from dbt_cio.project import DbtArgs, Project

HOSTILE_SQL = """
select '1' as person_id, 'plain' as label, cast(1.5 as double precision) as score, cast('{"a": [1, 2]}' as json) as doc
union all select null, 'null id', cast(1 as double precision), null
union all select '{long_id}', 'long id', cast(1 as double precision), null
union all select 'nan', 'nan score', cast('NaN' as double precision), null
union all select 'inf', 'infinite score', cast('Infinity' as double precision), null
union all select 'long-value', repeat('v', 1001), cast(1 as double precision), null
union all select 'huge-json', 'huge json', cast(1 as double precision), cast('{"k": "' || repeat('x', 40000) || '"}' as json)
union all select 'unicode', 'Zoë 🚀 עברית \u202e zero\u200dwidth', cast(2 as double precision), null
union all select 'quote"back\\slash', 'quotes', cast(3 as double precision), null
"""

WIDE_SQL = (
    "select cast(n as varchar(10)) as person_id, {columns} from (select 1 as n union all select 2 as n) t"
)

SCHEMA = """
version: 2
models:
  - name: hostile_people
    config:
      meta:
        customerio: {type: person, identifier: person_id}
  - name: wide_people
    config:
      meta:
        customerio: {type: person, identifier: person_id}
"""


def _rejections(project: DbtProject, sync: str) -> dict[str, str]:
    with Project.load(
        DbtArgs(project_dir=project.path, profiles_dir=project.path, target=project.target)
    ) as p:
        return {r["sync_key"]: r["reason"] for r in open_state(p).records.rejections(sync)}


def test_hostile_rows_are_sent_faithfully_or_rejected_with_a_reason(
    dbt_project: DbtProject, emulator: RunningEmulator
) -> None:
    models = dbt_project.path / "models"
    (models / "hostile_people.sql").write_text(HOSTILE_SQL.replace("{long_id}", "x" * 151))
    columns = ", ".join(f"'value {i}' as attr_{i}" for i in range(301))
    (models / "wide_people.sql").write_text(WIDE_SQL.format(columns=columns))
    (models / "hostile.yml").write_text(SCHEMA)
    dbt_project.dbt("run", "--select", "hostile_people", "wide_people")

    proc = run_cli(
        dbt_project, "sync", "--select", "hostile_people", "wide_people", env=emulator.env, expect=1
    )
    results = read_results(dbt_project)
    assert status(results["hostile_people"]) == "rejected", proc.stdout

    people = {p.id: p.attributes for p in emulator.state.people.values()}
    # Sent faithfully.
    assert people["1"] == {"label": "plain", "score": 1.5, "doc": {"a": [1, 2]}}, people["1"]
    assert people["unicode"]["label"] == "Zoë 🚀 עברית \u202e zero\u200dwidth"
    assert people['quote"back\\slash']["score"] == 3
    assert "score" not in people["nan"] and "score" not in people["inf"]  # NaN and infinities become null
    assert people["nan"]["label"] == "nan score"

    # Rejected, with reasons, and nothing of them reached Customer.io.
    rejected = _rejections(dbt_project, "hostile_people")
    assert set(rejected) == {"<null>", "x" * 151, "long-value", "huge-json"}, rejected
    assert "null" in rejected["<null>"]
    assert "150" in rejected["x" * 151]
    assert "1000" in rejected["long-value"]
    for key in ("x" * 151, "long-value", "huge-json"):
        assert key not in people

    wide = _rejections(dbt_project, "wide_people")
    assert set(wide) == {"1", "2"} and all("300" in reason for reason in wide.values()), wide
    assert not math.isnan(len(people))
