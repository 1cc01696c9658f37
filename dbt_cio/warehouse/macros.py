"""dbt-cio's own dbt macros (the ``.sql`` files in ``dbt_cio/macros/``), made part of a loaded dbt manifest.

dbt-cio is not a dbt package the user installs, yet its SQL for payloads is written as dbt macros, so that
each warehouse gets its own variant through ``adapter.dispatch`` and a project can override any of them the
way it overrides a package's: a ``dispatch:`` entry in ``dbt_project.yml``::

    dispatch:
      - macro_namespace: dbt_cio
        search_order: [my_project, dbt_cio]   # my_project's duckdb__json_string wins over dbt-cio's

To make that work whatever the manifest came from (a local ``dbt parse``, ``target/manifest.json``, a
download), :func:`add_dbt_cio_macros` parses the shipped files with dbt's own block extractor and adds each
macro to the loaded manifest as package ``dbt_cio``, in memory only, before the adapter's macro resolver is
set (:mod:`dbt_cio.project`). The manifest on disk is never changed. Callers execute them with
``package="dbt_cio"`` (:meth:`dbt_cio.warehouse.session.WarehouseSession.render_macro`), so that the
project's own macros of the same name never shadow them, and dispatch searches dbt-cio's macros (and the
project's, when its ``dispatch:`` config lists it first).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # heavy imports stay out of `--help`
    from dbt.contracts.graph.manifest import Manifest

__all__ = ["MACRO_DIR", "PACKAGE", "add_dbt_cio_macros", "macro_names"]

PACKAGE = "dbt_cio"
"""The package name dbt-cio's macros have in the manifest (and the ``dispatch:`` namespace)."""
MACRO_DIR = Path(__file__).resolve().parent.parent / "macros"
"""Where the macro files ship, inside the installed package."""


@functools.lru_cache(maxsize=1)
def _blocks() -> tuple[tuple[str, str, str], ...]:
    """``(file name, macro name, macro source)`` of every macro shipped, read and split once per process."""
    from dbt_common.clients.jinja import extract_toplevel_blocks

    found: list[tuple[str, str, str]] = []
    for path in sorted(MACRO_DIR.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        for block in extract_toplevel_blocks(text, allowed_blocks={"macro"}, collect_raw_data=False):
            name, sql = getattr(block, "block_name", None), getattr(block, "full_block", None)
            if getattr(block, "block_type_name", None) == "macro" and name and sql:  # a tag, not raw text
                found.append((path.name, str(name), str(sql)))
    return tuple(found)


def macro_names() -> list[str]:
    """The names of the macros dbt-cio ships, in file order."""
    return [name for _file, name, _sql in _blocks()]


def add_dbt_cio_macros(manifest: Manifest) -> int:
    """Add dbt-cio's macros to ``manifest`` under the package ``dbt_cio``; return how many were added.

    A macro the manifest already holds under that package and name (a project that installed its own copy
    as a dbt package) is kept as it is. Idempotent: a second call adds nothing.
    """
    from dbt.artifacts.resources.base import FileHash
    from dbt.artifacts.resources.types import NodeType
    from dbt.contracts.files import FilePath, ParseFileType, SourceFile
    from dbt.contracts.graph.nodes import Macro

    files: dict[str, SourceFile] = {}
    added = 0
    for file_name, name, sql in _blocks():
        unique_id = f"macro.{PACKAGE}.{name}"
        if unique_id in manifest.macros:
            continue
        source = files.get(file_name)
        if source is None:
            path = FilePath(
                searched_path="macros",
                relative_path=file_name,
                modification_time=0.0,
                project_root=str(MACRO_DIR.parent),
            )
            source = files[file_name] = SourceFile(
                path=path,
                checksum=FileHash.from_contents((MACRO_DIR / file_name).read_text(encoding="utf-8")),
                project_name=PACKAGE,
                parse_file_type=ParseFileType.Macro,
            )
        macro = Macro(
            name=name,
            resource_type=NodeType.Macro,
            package_name=PACKAGE,
            path=f"macros/{file_name}",
            original_file_path=f"macros/{file_name}",
            unique_id=unique_id,
            macro_sql=sql,
        )
        manifest.add_macro(source, macro)
        added += 1
    if added and manifest.find_macro_by_name("sql_templates", PACKAGE, PACKAGE) is None:
        # An older dbt-core whose add_macro leaves its by-name and by-package lookups as they were built:
        # let the manifest build them again from its macros.
        manifest._macros_by_name = None
        manifest._macros_by_package = None
    return added
