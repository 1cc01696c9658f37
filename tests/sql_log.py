"""Every statement a ``dbt-cio`` process sent through its dbt adapter, read back from dbt's own log file.

dbt logs each statement an adapter runs as a ``SQLQuery`` event. dbt-cio keeps dbt's log file off unless
``DBT_LOG_LEVEL_FILE`` is set, as dbt does; :func:`logging_env` asks for it at ``debug`` level, as JSON
lines, in a directory of the test's choosing (one per process, so runs never mix).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_COMMENT = re.compile(r"^\s*(/\*.*?\*/\s*|--[^\n]*\n\s*)*", re.DOTALL)


def logging_env(log_dir: Path) -> dict[str, str]:
    """The environment that makes dbt write every statement to ``log_dir/dbt.log``."""
    return {"DBT_LOG_LEVEL_FILE": "debug", "DBT_LOG_FORMAT_FILE": "json", "DBT_LOG_PATH": str(log_dir)}


def statements(log_dir: Path) -> list[str]:
    """The statements in the order they were sent, leading comments (dbt's query comment) removed."""
    out = []
    for line in (log_dir / "dbt.log").read_text().splitlines():
        event = json.loads(line)
        if event["info"]["name"] == "SQLQuery":
            out.append(_COMMENT.sub("", event["data"]["sql"]).strip())
    return out


def verb(statement: str) -> str:
    """The statement's first word, lower-cased: ``select``, ``insert``, ``create``..."""
    return statement.split(None, 1)[0].lower() if statement else ""


def writes_to(statement: str) -> str | None:
    """The bare name of the table an ``insert into`` writes to, else None."""
    return _table(re.match(r"insert\s+into\s+(\S+)", statement, re.IGNORECASE))


def creates(statement: str) -> str | None:
    """The bare name of the table a ``create table`` creates, else None."""
    return _table(re.match(r"create\s+table\s+(?:if\s+not\s+exists\s+)?(\S+)", statement, re.IGNORECASE))


def _table(found: re.Match[str] | None) -> str | None:
    return found.group(1).split(".")[-1].strip('`"').lower() if found else None


READS = frozenset({"select", "with", "show", "describe"})
