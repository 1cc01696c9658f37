"""A local Customer.io: Track API v1/v2 and App API segments and collections, for tests and users' CI.

``from dbt_cio.emulator import Emulator, EmulatorThread, serve``; see :class:`Emulator`,
:class:`EmulatorThread` and :func:`serve`, and ``dbt-cio emulator --help`` for the command line. Importing
this package does not import aiohttp. The emulator stands apart from the rest of dbt-cio on purpose: it
imports nothing of it, so it checks the client against Customer.io's documents, not against itself.
"""

from __future__ import annotations

from dbt_cio.emulator.emulator import APP_RATE_LIMIT, Emulator
from dbt_cio.emulator.faults import Faults
from dbt_cio.emulator.serving import EmulatorThread, serve
from dbt_cio.emulator.store import Collection, Device, Event, Person, Segment, State

__all__ = [
    "APP_RATE_LIMIT",
    "Collection",
    "Device",
    "Emulator",
    "EmulatorThread",
    "Event",
    "Faults",
    "Person",
    "Segment",
    "State",
    "serve",
]
