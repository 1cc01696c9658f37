"""The user's dbt project, seen through dbt itself: flags, profile, manifest, selection and adapter.

dbt-cio never re-implements dbt: ``--project-dir``, ``--profiles-dir``, ``--target``, ``--vars``,
``--select``, ``--exclude`` and ``--selector`` are handed to dbt's own command-line parser (as if the user
had typed ``dbt ls ...``), so defaults, ``DBT_PROFILES_DIR``, ``DBT_TARGET`` and ``env_var()`` in
``profiles.yml`` behave exactly as they do for dbt. The warehouse is reached only through the dbt adapter
of the selected target.

Manifest
    ``target/manifest.json`` is read as it is when it is current, and dbt parses the project again when it is
    stale (:mod:`dbt_cio.manifest` says when).

Selection
    With ``--select``, ``--exclude`` or ``--selector`` dbt's own :class:`dbt.graph.NodeSelector` picks the
    nodes; models among them without a ``meta.customerio`` block are skipped with a note. With none of
    them, dbt's default selector (``default: true`` in ``selectors.yml``) applies if the project has one,
    as it would for ``dbt run``; otherwise every model with a ``meta.customerio`` block is selected.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dbt_cio.contract.blocks import has_block
from dbt_cio.errors import UsageError, gist
from dbt_cio.manifest import is_model, other_target, parse_project, read_manifest, stale_reason, vars_reason
from dbt_cio.run_results import DbtRunResults, GivenArtifacts
from dbt_cio.warehouse.macros import add_dbt_cio_macros
from dbt_cio.warehouse.session import WarehouseSession
from dbt_cio.warehouse.state import STATE_MODES, StateMode

if TYPE_CHECKING:  # heavy imports stay out of `--help`
    from dbt.adapters.base.impl import BaseAdapter
    from dbt.config.runtime import RuntimeConfig
    from dbt.contracts.graph.manifest import Manifest

STATE_SCHEMA_VAR = "dbt_cio_state_schema"
"""The dbt var (``--vars`` or ``vars:`` in dbt_project.yml) that overrides the state schema."""
STATE_MODE_VAR = "dbt_cio_state_mode"
"""The dbt var that says how state is written: ``auto`` (default), ``transactional`` or ``append_only``."""
STATE_MODE_ENV = "DBT_CIO_STATE_MODE"
"""The environment variable read when the var is not set."""
STATE_SCHEMA_SUFFIX = "_dbt_cio"
"""The default state schema is the target schema plus this suffix, e.g. ``analytics_dbt_cio``."""


@dataclass(frozen=True)
class DbtArgs:
    """The dbt-style arguments of a dbt-cio command; ``None`` means "as dbt would default it".

    ``vars`` is a YAML/JSON string (as typed on the command line) or a mapping. ``select`` and ``exclude``
    hold one selection method per item, as dbt's repeated ``--select`` does.
    """

    project_dir: str | Path | None = None
    profiles_dir: str | Path | None = None
    target: str | None = None
    vars: str | Mapping[str, Any] | None = None
    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    selector: str | None = None
    state_schema: str | None = None
    profile: str | None = None

    def dbt_argv(self, selection: bool = True) -> list[str]:
        """These arguments as a dbt command line (without the command); ``selection=False`` for ``dbt parse``."""
        argv: list[str] = []
        for flag, value in (
            ("--project-dir", self.project_dir),
            ("--profiles-dir", self.profiles_dir),
            ("--target", self.target),
            ("--profile", self.profile),
            ("--selector", self.selector if selection else None),
        ):
            if value is not None:
                argv += [flag, str(value)]
        if self.vars:
            argv += ["--vars", self.vars if isinstance(self.vars, str) else json.dumps(dict(self.vars))]
        if selection:
            for item in self.select:
                argv += ["--select", item]
            for item in self.exclude:
                argv += ["--exclude", item]
        return argv


@dataclass
class Project:
    """A loaded dbt project with its adapter registered; a context manager that owns the connections.

    ``Project.load(args)`` reads it; :attr:`session` is the warehouse through its adapter (connections are
    opened on first use, per thread; see :mod:`dbt_cio.warehouse.session`). As a context manager
    (``with Project.load(args) as project:``) it closes every connection on exit.
    """

    args: DbtArgs
    config: RuntimeConfig = field(repr=False)  # holds the credentials: never in a repr
    manifest: Manifest = field(repr=False)
    reparsed: bool = False
    reparse_reason: str | None = None  # why the manifest on disk was not used as it was
    given: GivenArtifacts | None = None  # artifacts of a dbt Cloud run, used instead of target/'s
    _adapter: BaseAdapter | None = field(default=None, repr=False)
    _session: WarehouseSession | None = field(default=None, repr=False)
    _tests: dict[str, list[str]] | None = field(default=None, repr=False)

    # -- loading --------------------------------------------------------------------------------------

    @classmethod
    def load(cls, args: DbtArgs, given: GivenArtifacts | None = None) -> Project:
        """Resolve flags, profile and project as dbt does; read (or re-parse) the manifest, or use ``given``'s
        as it is; register the adapter."""
        flags = _set_flags(args)
        config = _runtime_config(flags)
        manifest_path = given.manifest if given else Path(config.project_root) / config.target_path / "manifest.json"  # fmt: skip
        manifest: Manifest | None = None
        reason = None if given else stale_reason(manifest_path, config, flags)
        if reason is None:
            manifest = read_manifest(manifest_path)
            if manifest.metadata.adapter_type != config.credentials.type:
                reason, manifest = f"written for adapter {manifest.metadata.adapter_type}", None
            elif not given and other_target(manifest, config):
                reason, manifest = "written for another target", None
            elif not given and args.vars:
                results = _results_beside(manifest_path)
                if reason := vars_reason(manifest, results, flags.VARS or {}):
                    manifest = None
        if given and manifest is None:  # written elsewhere (dbt Cloud): used as it is, or not at all
            raise UsageError(f"the manifest of {given.origin} was {reason}, not {config.credentials.type} (target "
                             f"'{config.target_name}'): point --profile/--target at that warehouse")  # fmt: skip
        reparsed = manifest is None
        if manifest is None:
            manifest = parse_project(args.dbt_argv(selection=False))
            flags = _set_flags(args)  # dbt parse replaced the global flags: put ours back
            config = _runtime_config(flags)
        project = cls(args, config, manifest, reparsed=reparsed, reparse_reason=reason, given=given)
        project._register_adapter()
        return project

    def _register_adapter(self) -> None:
        from dbt.adapters.factory import get_adapter, register_adapter, reset_adapters
        from dbt.context.providers import generate_runtime_macro_context
        from dbt.mp_context import get_mp_context

        reset_adapters()  # type: ignore[no-untyped-call]  # a previous project in this process must not leak its adapter into this one
        register_adapter(self.config, get_mp_context())
        adapter = get_adapter(self.config)
        add_dbt_cio_macros(self.manifest)  # whatever the manifest came from (dbt_cio.warehouse.macros)
        adapter.set_macro_resolver(self.manifest)
        adapter.set_macro_context_generator(generate_runtime_macro_context)
        self._adapter = adapter

    def __enter__(self) -> Project:  # noqa: PYI034
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection the adapter opened (in any thread); the project can be used again."""
        if self._session is not None:
            self._session.close()

    # -- the adapter ----------------------------------------------------------------------------------

    @property
    def adapter(self) -> BaseAdapter:
        assert self._adapter is not None, "Project.load() registers the adapter"
        return self._adapter

    @property
    def session(self) -> WarehouseSession:
        """The warehouse through this project's adapter (one per project)."""
        if self._session is None:
            label = f"target '{self.target_name}' ({self.adapter_type})"
            self._session = WarehouseSession(self.adapter, target=label)
        return self._session

    @property
    def adapter_type(self) -> str:
        return str(self.config.credentials.type)

    @property
    def target_name(self) -> str:
        return str(self.config.target_name)

    @property
    def target_schema(self) -> str:
        return str(self.config.credentials.schema)

    @property
    def database(self) -> str | None:
        return getattr(self.config.credentials, "database", None)

    @property
    def target_dir(self) -> Path:
        return Path(self.config.project_root) / self.config.target_path

    @property
    def project_name(self) -> str:
        return str(self.config.project_name)

    @property
    def state_schema(self) -> str:
        """Where dbt-cio keeps its state: the explicit argument, else the dbt var, else ``<schema>_dbt_cio``."""
        if self.args.state_schema:
            return self.args.state_schema
        value = self.var(STATE_SCHEMA_VAR)
        if value:
            return str(value)
        return f"{self.target_schema}{STATE_SCHEMA_SUFFIX}"

    @property
    def state_mode(self) -> StateMode:
        """How the state schema is written: the dbt var ``dbt_cio_state_mode``, else the environment variable
        ``DBT_CIO_STATE_MODE``, else ``auto``."""
        value = str(self.var(STATE_MODE_VAR) or os.environ.get(STATE_MODE_ENV) or "auto")
        for mode in STATE_MODES:
            if value == mode:
                return mode
        raise UsageError(
            f"var {STATE_MODE_VAR} (or {STATE_MODE_ENV}) is {value!r}: use one of {', '.join(STATE_MODES)} (auto unless you know why)"
        )

    def var(self, name: str) -> Any:
        """A global dbt var: ``--vars`` first, then this project's ``vars:`` (scoped, then global)."""
        if name in self.config.cli_vars:
            return self.config.cli_vars[name]
        project_vars = getattr(self.config.vars, "vars", {}) or {}
        scoped = project_vars.get(self.project_name)
        if isinstance(scoped, Mapping) and name in scoped:
            return scoped[name]
        return project_vars.get(name)

    # -- nodes and selection --------------------------------------------------------------------------

    def all_nodes(self) -> list[dict[str, Any]]:
        """Every enabled model of the manifest, as dicts in manifest.json form, in unique_id order."""
        return [
            self.manifest.nodes[uid].to_dict()
            for uid in sorted(self.manifest.nodes)
            if is_model(self.manifest.nodes[uid].resource_type)
        ]

    def tests_of(self, unique_id: str) -> list[str]:
        """The unique ids of the tests (data and unit tests) that depend on the node ``unique_id``."""
        if self._tests is None:
            tests: dict[str, list[str]] = {}
            candidates = [*self.manifest.nodes.values(), *getattr(self.manifest, "unit_tests", {}).values()]
            for node in candidates:
                if str(getattr(node.resource_type, "value", node.resource_type)) not in ("test", "unit_test"):
                    continue
                for parent in getattr(node.depends_on, "nodes", []) or []:
                    tests.setdefault(parent, []).append(node.unique_id)
            self._tests = tests
        return sorted(self._tests.get(unique_id, []))

    def run_results(self) -> DbtRunResults | None:
        """The results of the last dbt command in ``target/run_results.json``, or the given artifacts'."""
        return self.given.results if self.given else DbtRunResults.read(self.target_dir / "run_results.json")

    def selected_nodes(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The selected models that have a ``meta.customerio`` block, and notes about selected ones skipped."""
        explicit = bool(self.args.select or self.args.exclude or self.args.selector)
        if not explicit and self.config.get_default_selector_name() is None:
            return [n for n in self.all_nodes() if has_block(n)], []
        unique_ids = self._select()
        nodes: list[dict[str, Any]] = []
        notes: list[str] = []
        for uid in sorted(unique_ids):
            node = self.manifest.nodes.get(uid)
            if node is None or not is_model(node.resource_type):
                continue
            as_dict = node.to_dict()
            if has_block(as_dict):
                nodes.append(as_dict)
            else:
                notes.append(f"model '{node.name}' is selected but has no meta.customerio block: skipped")
        if not nodes and not notes:
            notes.append("the selection matched no models")
        return nodes, notes

    def _select(self) -> set[str]:
        from dbt.compilation import Compiler
        from dbt.graph.cli import parse_difference
        from dbt.graph.selector import NodeSelector
        from dbt_common.exceptions import DbtBaseException

        try:
            if self.args.selector:
                spec: Any = self.config.get_selector(self.args.selector)
            elif not (self.args.select or self.args.exclude):
                spec = self.config.get_selector(str(self.config.get_default_selector_name()))
            else:
                spec = parse_difference(list(self.args.select) or None, list(self.args.exclude) or None)
            graph = Compiler(self.config).compile(self.manifest, write=False)
            selector = NodeSelector(graph, self.manifest)
            if "warn_on_no_nodes" in inspect.signature(selector.get_selected).parameters:  # dbt >= 1.10
                return set(selector.get_selected(spec, warn_on_no_nodes=False))
            return set(selector.get_selected(spec))
        except DbtBaseException as exc:
            raise UsageError(f"dbt could not apply the selection: {gist(exc)}") from exc

    def columns_of(self, node: Mapping[str, Any]) -> list[str] | None:
        """The model's columns as the warehouse reports them, in order; None when the model is not built.

        Call it on the session's thread (it opens a connection there)."""
        return self.session.columns_of(
            node.get("database"),
            str(node.get("schema")),
            str(node.get("alias") or node["name"]),
            str(node.get("name")),
        )


# -- flags, config and manifest (dbt's own machinery) -----------------------------------------------------


def _set_flags(args: DbtArgs) -> Any:
    """Parse the arguments with dbt's own CLI (as ``dbt ls``) and make them dbt's global flags."""
    import click
    from dbt.cli.flags import Flags, args_to_context
    from dbt.events.logging import setup_event_logger
    from dbt.flags import set_flags
    from dbt_common.context import set_invocation_context

    # env_var() in profiles reads the invocation context: take the environment as it is now
    set_invocation_context(dict(os.environ))
    argv = ["ls", *args.dbt_argv(), "--log-level", "none"]
    if not os.environ.get("DBT_LOG_LEVEL_FILE"):
        argv += ["--log-level-file", "none"]
    try:
        flags = Flags(args_to_context(argv))
    except click.exceptions.ClickException as exc:
        raise UsageError(f"invalid dbt arguments: {exc.format_message()}") from exc
    set_flags(flags)  # type: ignore[no-untyped-call]
    setup_event_logger(flags)  # dbt's own events stay quiet: dbt-cio reports what matters itself
    return flags


def _results_beside(manifest_path: Path) -> DbtRunResults | None:
    """The ``run_results.json`` beside a manifest, or None when it is missing or unreadable (the manifest is then
    parsed again, as without it)."""
    try:
        return DbtRunResults.read(manifest_path.parent / "run_results.json")
    except UsageError:
        return None


def _runtime_config(flags: Any) -> RuntimeConfig:
    from dbt.config.runtime import RuntimeConfig, load_profile, load_project
    from dbt_common.exceptions import DbtBaseException

    project_dir = Path(flags.PROJECT_DIR)
    if not (project_dir / "dbt_project.yml").is_file():
        raise UsageError(f"no dbt_project.yml in {project_dir.resolve()}: pass --project-dir")
    try:
        profile = load_profile(str(project_dir), flags.VARS, flags.PROFILE, flags.TARGET, None)
        # validate= (dbt_project.yml against dbt's JSON schema, as dbt's CLI does) is new in dbt 1.10
        extra = {"validate": True} if "validate" in inspect.signature(load_project).parameters else {}
        project = load_project(str(project_dir), flags.VERSION_CHECK, profile, flags.VARS, **extra)
        return RuntimeConfig.from_parts(project, profile, flags)
    except DbtBaseException as exc:
        raise UsageError(f"dbt could not load the project or profile: {exc}") from exc


__all__: Sequence[str] = ["STATE_MODE_VAR", "STATE_SCHEMA_VAR", "DbtArgs", "Project"]
