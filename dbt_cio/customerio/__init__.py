"""The destination: Customer.io's APIs, rules and limits, and how dbt-cio talks to them.

Nothing here knows about dbt, the warehouse or the ``meta.customerio`` contract:

- ``credentials`` — workspaces, keys, regions and base URLs from the environment;
- ``limits`` — the documented data limits, and pure checks of an item against them;
- ``values`` — one database value as the JSON Customer.io expects; ``ulid`` — deterministic event ids;
- ``operations`` — what is sent (batch items, segment changes) and what comes back (results);
- ``ratelimit`` — the request-rate ceiling with bursts; ``batching`` — packing items into 500 KB bodies;
- ``client`` — the HTTP client (the only module that touches aiohttp's client); ``stats`` — its counters;
- ``sender`` — a stream of operations in, a stream of results out.
"""
