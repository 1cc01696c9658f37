"""The integration dbt project builds on every target the tests use."""

from __future__ import annotations

import json

from conftest import DbtProject


def test_project_builds_and_declares_every_sync_type(built_project: DbtProject) -> None:
    manifest = json.loads((built_project.path / "target" / "manifest.json").read_text())
    types = set()
    for node in manifest["nodes"].values():
        blocks = node["config"].get("meta", {}).get("customerio")
        if blocks is None:
            continue
        for block in blocks if isinstance(blocks, list) else [blocks]:
            types.add(block["type"])
    assert types == {"person", "event", "object", "relationship", "segment", "device", "collection"}
