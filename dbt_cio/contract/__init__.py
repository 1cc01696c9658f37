"""The contract: what a model's ``meta.customerio`` block may say, and what it resolves to.

- ``model`` — :class:`~dbt_cio.contract.model.Sync`, one resolved block, which everything downstream uses;
- ``schema`` — the shipped JSON Schema (``customerio.schema.json``) and its errors in our words;
- ``resolve`` — finding blocks in manifest nodes, checking them against the project, building syncs.
"""
