"""The contract: what a model's ``meta.customerio`` block may say, and what it resolves to.

- ``model`` — :class:`~dbt_cio.contract.model.Sync`, one resolved block, which everything downstream uses;
- ``schema`` — the shipped JSON Schema (``customerio.schema.json``) and its errors in our words;
- ``blocks`` — where a model's blocks are, and the sync name each takes;
- ``resolve`` — checking blocks against the model's columns and the project, building syncs.
"""
