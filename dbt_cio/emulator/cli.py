"""``dbt-cio emulator``: run the local Customer.io until interrupted, for your own tests and CI.

Thin on purpose: options in, an :class:`~dbt_cio.emulator.Emulator` out, served until Ctrl-C or SIGTERM.
aiohttp is imported only when the command runs, so ``dbt-cio --help`` stays instant.
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from dbt_cio.emulator.emulator import Emulator

#: Well-known development credentials: not secrets, they only open the local emulator.
DEV_SITE_ID = "dbt-cio-dev-site"
DEV_API_KEY = "dbt-cio-dev-key"
DEV_APP_API_KEY = "dbt-cio-dev-app-key"


def _exports(base_url: str, site_id: str, api_key: str, app_api_key: str) -> list[str]:
    """The environment a client needs; key values are shown only when they are the public dev defaults."""
    lines = [
        f"export CUSTOMERIO_TRACK_URL={base_url}",
        f"export CUSTOMERIO_APP_URL={base_url}",
        f"export CUSTOMERIO_SITE_ID={site_id}",
    ]
    for name, value, default, flag in (
        ("CUSTOMERIO_API_KEY", api_key, DEV_API_KEY, "--api-key"),
        ("CUSTOMERIO_APP_API_KEY", app_api_key, DEV_APP_API_KEY, "--app-api-key"),
    ):
        if value == default:
            lines.append(f"export {name}={value}")
        else:
            lines.append(f"# {name}: the value you gave with {flag} (not shown)")
    return lines


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8787, show_default=True, type=int, help="Port to listen on (0 = any free port)."
)
@click.option(
    "--site-id",
    default=DEV_SITE_ID,
    show_default=True,
    envvar="DBT_CIO_EMULATOR_SITE_ID",
    help="Track API site id the emulator accepts.",
)
@click.option(
    "--api-key",
    default=DEV_API_KEY,
    envvar="DBT_CIO_EMULATOR_API_KEY",
    show_default=True,
    help="Track API key the emulator accepts (the default is a public dev credential).",
)
@click.option(
    "--app-api-key",
    default=DEV_APP_API_KEY,
    envvar="DBT_CIO_EMULATOR_APP_API_KEY",
    show_default=True,
    help="App API bearer key the emulator accepts (the default is a public dev credential).",
)
@click.option(
    "--region",
    type=click.Choice(["us", "eu"]),
    default="us",
    show_default=True,
    help="Region reported by GET /api/v1/accounts/region.",
)
@click.option(
    "--rate-limit",
    type=float,
    default=None,
    help="Track API requests per second before answering 429 (default: unlimited).",
)
@click.option(
    "--burst",
    type=int,
    default=None,
    help="Track API requests allowed at once (default: one second's worth).",
)
@click.option(
    "--app-rate-limit",
    type=float,
    default=10.0,
    show_default=True,
    help="App API requests per second (0 = unlimited).",
)
@click.option("--error-rate", type=float, default=0.0, help="Share of requests answered 500/503.")
@click.option("--throttle-rate", type=float, default=0.0, help="Share of requests answered 429.")
@click.option("--drop-rate", type=float, default=0.0, help="Share of connections dropped without an answer.")
@click.option(
    "--drop-after-apply-rate",
    type=float,
    default=0.0,
    help="Share of requests applied and then dropped without an answer.",
)
@click.option("--slow-seconds", type=float, default=0.0, help="Delay before every answer.")
@click.option(
    "--retry-after", type=float, default=1.0, show_default=True, help="Retry-After of injected 429s."
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the fault dice (reproducible runs)."
)
@click.option(
    "--no-validate-schema",
    is_flag=True,
    help="Skip OpenAPI schema checks of batch items (data limits are still enforced); faster.",
)
@click.option(
    "--count-only",
    is_flag=True,
    help="Batch requests only count their items: nothing checked or stored (for benchmarks: the emulator is then "
    "never the bottleneck).",
)
@click.option(
    "--seed-segment",
    "seed_segments",
    multiple=True,
    metavar="NAME[:dynamic]",
    help="Create a segment at start (repeatable); ':dynamic' makes it data-driven.",
)
def emulator_command(**kw: Any) -> None:
    """Run a local Customer.io (Track v1/v2 and App API segments and collections).

    State is shown at /_emulator/state; faults are set with POST /_emulator/faults.
    Stop it with Ctrl-C.
    """
    from dbt_cio.emulator.emulator import Emulator

    emu = Emulator(
        site_id=kw["site_id"],
        api_key=kw["api_key"],
        app_api_key=kw["app_api_key"],
        region=kw["region"],
        rate_limit=kw["rate_limit"] or None,
        burst=kw["burst"],
        validate_schema=not kw["no_validate_schema"],
        app_rate_limit=kw["app_rate_limit"] or None,
        seed=kw["seed"],
        count_only=kw["count_only"],
    )
    emu.faults.update(
        {
            name: kw[name]
            for name in (
                "error_rate",
                "throttle_rate",
                "drop_rate",
                "drop_after_apply_rate",
                "slow_seconds",
                "retry_after",
            )
        }
    )
    for spec in kw["seed_segments"]:
        name, _, kind = spec.partition(":")
        if kind not in ("", "manual", "dynamic"):
            raise click.BadParameter(
                f"{spec!r}: the type after ':' must be manual or dynamic", param_hint="--seed-segment"
            )
        emu.state.create_segment(name, type=kind or "manual")
    asyncio.run(_serve(emu, kw["host"], kw["port"], kw["api_key"], kw["app_api_key"]))


async def _serve(emu: Emulator, host: str, port: int, api_key: str, app_api_key: str) -> None:
    from dbt_cio.emulator.serving import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    async with serve(emu, host, port) as base_url:
        click.echo(f"Customer.io emulator listening on {base_url} (region {emu.region})")
        for line in _exports(base_url, emu.site_id, api_key, app_api_key):
            click.echo(line)
        for segment in emu.state.segments.values():
            click.echo(f"# segment {segment.id}: {segment.name} ({segment.type})")
        click.echo(
            f"# state: {base_url}/_emulator/state  stats: {base_url}/_emulator/stats  (Ctrl-C to stop)"
        )
        await stop.wait()
    click.echo("Customer.io emulator stopped.")
