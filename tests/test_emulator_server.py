"""The emulator over real HTTP: auth, region, v2 batch/entity answers, state, segments, collections, admin."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from dbt_cio.emulator import Emulator, serve
from dbt_cio.emulator.validation import BATCH_MAX_BYTES, COLLECTION_ROW_MAX_BYTES

TRACK = {"Authorization": "Basic " + base64.b64encode(b"site:key").decode()}
APP = {"Authorization": "Bearer app-key"}


@dataclass
class Client:
    """A real HTTP client bound to one running emulator."""

    emu: Emulator
    url: str
    session: aiohttp.ClientSession

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> tuple[int, Any, Any]:
        if headers is None:
            headers = TRACK if path.startswith("/api/") else APP
        kwargs: dict[str, Any] = {"headers": headers}
        if data is not None:
            kwargs["data"] = data
        elif body is not None:
            kwargs["json"] = body
        async with self.session.request(method, self.url + path, **kwargs) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text else None), resp.headers

    async def batch(self, *items: dict[str, Any]) -> tuple[int, Any]:
        status, body, _ = await self.call("POST", "/api/v2/batch", {"batch": list(items)})
        return status, body


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    emu = Emulator(site_id="site", api_key="key", app_api_key="app-key", app_rate_limit=None)
    async with serve(emu) as url, aiohttp.ClientSession() as session:
        yield Client(emu, url, session)


def person(pid: str, action: str = "identify", **extra: Any) -> dict[str, Any]:
    return {"type": "person", "identifiers": {"id": pid}, "action": action, **extra}


def obj(oid: str, action: str = "identify", type_id: str = "1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "identifiers": {"object_type_id": type_id, "object_id": oid},
        "action": action,
        **extra,
    }


# -- auth and region ---------------------------------------------------------------------------------------


async def test_region_with_good_credentials(client: Client) -> None:
    status, body, _ = await client.call("GET", "/api/v1/accounts/region")
    assert status == 200
    assert body == {"url": client.url, "region": "us", "environment_id": 1}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic " + base64.b64encode(b"site:wrong").decode(),
        "Basic " + base64.b64encode(b"other:key").decode(),
        "Basic not-base64!",
        "Bearer app-key",
    ],
)
async def test_track_refuses_bad_credentials(client: Client, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in (("GET", "/api/v1/accounts/region"), ("POST", "/api/v2/batch")):
        status, body, _ = await client.call(method, path, {"batch": [person("1")]}, headers=headers)
        assert status == 401
        assert "key" not in json.dumps(body).replace("API key", "")  # the message never echoes a secret
    assert client.emu.state.people == {}


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic " + base64.b64encode(b"site:key").decode()])
async def test_app_refuses_bad_credentials(client: Client, header: str | None) -> None:
    status, _, _ = await client.call(
        "GET", "/v1/segments", headers={"Authorization": header} if header else {}
    )
    assert status == 401


async def test_eu_region() -> None:
    emu = Emulator(region="eu")
    async with (
        serve(emu) as url,
        aiohttp.ClientSession() as session,
        session.get(url + "/api/v1/accounts/region", headers=TRACK) as resp,
    ):
        assert (await resp.json())["region"] == "eu"


def test_repr_masks_keys() -> None:
    text = repr(Emulator(api_key="s3cret-track", app_api_key="s3cret-app"))
    assert "s3cret" not in text


# -- v2 batch answers --------------------------------------------------------------------------------------


async def test_batch_all_valid_is_200_empty_object(client: Client) -> None:
    assert await client.batch(person("1", attributes={"plan": "pro"}), obj("acme")) == (200, {})
    assert client.emu.state.person(id="1").attributes == {"plan": "pro"}  # type: ignore[union-attr]


async def test_batch_with_invalid_items_is_207_with_exact_indexes(client: Client) -> None:
    status, body = await client.batch(
        person("1"),
        {"type": "person", "action": "identify", "identifiers": {"id": "2", "email": "x@y"}},  # two ids
        person("3"),
        person("4", action="event"),  # event without name
        {"type": "robot", "action": "identify"},
        person("x" * 151),  # id over 150 bytes
        person("7", action="add_device", device={"token": "t", "platform": "web"}),  # schema: platform enum
    )
    assert status == 207
    assert [e["batch_index"] for e in body["errors"]] == [1, 3, 4, 5, 6]
    by_index = {e["batch_index"]: e for e in body["errors"]}
    assert by_index[3]["field"] == "name"
    assert by_index[5]["reason"] == "too_long" and by_index[5]["field"] == "identifiers.id"
    assert by_index[6]["field"] == "device.platform"
    assert all(set(e) == {"batch_index", "reason", "field", "message"} for e in body["errors"])
    assert {p.id for p in client.emu.state.people.values()} == {"1", "3"}  # valid ones applied


async def test_count_only_counts_items_and_checks_or_stores_nothing() -> None:
    emu = Emulator(site_id="site", api_key="key", app_api_key="app-key", app_rate_limit=None, count_only=True)
    async with serve(emu) as url, aiohttp.ClientSession() as session:
        client = Client(emu, url, session)
        assert await client.batch(person("1", attributes={"plan": "pro"}), obj("acme")) == (200, {})
        assert await client.batch(person("2"), person("x" * 151), person("3", action="event")) == (200, {})
        status, body, _ = await client.call("POST", "/api/v2/batch", data=b'{"items": []}')
        assert status == 400 and body["errors"][0]["field"] == "batch"  # the shape still is checked
        status, _body, _ = await client.call("POST", "/api/v2/batch", data=b"x" * (BATCH_MAX_BYTES + 1))
        assert status == 413  # and the body's size
    assert emu.stats.items == 5
    assert not emu.state.people and not emu.state.objects and not emu.state.events


@pytest.mark.parametrize("data", [b"{not json", b"[]", b'{"batch": {}}', b'{"items": []}', b"\xff\xfe"])
async def test_malformed_batch_is_400(client: Client, data: bytes) -> None:
    status, body, _ = await client.call("POST", "/api/v2/batch", data=data)
    assert status == 400
    assert body["errors"][0]["message"]


async def test_batch_over_500kb_is_413_and_applies_nothing(client: Client) -> None:
    items = [person(str(i), attributes={"pad": "x" * 900}) for i in range(600)]
    data = json.dumps({"batch": items}).encode()
    assert len(data) > BATCH_MAX_BYTES
    status, body, _ = await client.call("POST", "/api/v2/batch", data=data)
    assert status == 413
    assert "limit is 500000" in body["errors"][0]["message"]
    assert client.emu.state.people == {}


async def test_item_over_32kb_is_rejected_in_207(client: Client) -> None:
    big = person("big", attributes={f"a{i}": "y" * 990 for i in range(40)})
    status, body = await client.batch(person("ok"), big)
    assert status == 207
    assert body["errors"][0]["batch_index"] == 1 and body["errors"][0]["reason"] == "too_large"


@pytest.mark.parametrize(
    "item, field",
    [
        (person("1", attributes={"n" * 151: 1}), "attributes." + "n" * 40),
        (person("1", attributes={"v": "z" * 1001}), "attributes.v"),
        (person("1", attributes={f"a{i}": i for i in range(301)}), "attributes"),
        (person("1", action="event", name="e" * 101), "name"),
        # event data may be 100,000 bytes, but a v2 item may only be 32 KB: the item limit binds first
        (person("1", action="event", name="big", attributes={f"k{i}": "d" * 900 for i in range(112)}), ""),
        (obj("o" * 151), "identifiers.object_id"),
        (obj("acme", type_id="companies"), "identifiers.object_type_id"),
    ],
)
async def test_data_limits_reject_the_item(client: Client, item: dict[str, Any], field: str) -> None:
    status, body, _ = await client.call("POST", "/api/v2/batch", {"batch": [item]})
    assert status == 207
    assert body["errors"][0]["field"] == field


async def test_entity_one_item(client: Client) -> None:
    status, body, _ = await client.call("POST", "/api/v2/entity", person("1", attributes={"a": 1}))
    assert (status, body) == (200, {})
    status, body, _ = await client.call("POST", "/api/v2/entity", person("2", action="event"))
    assert status == 400 and body["errors"][0]["field"] == "name"
    status, _, _ = await client.call(
        "POST",
        "/api/v2/entity",
        data=json.dumps(person("3", attributes={f"a{i}": "q" * 900 for i in range(40)})).encode(),
    )
    assert status == 413


# -- state -------------------------------------------------------------------------------------------------


async def test_identify_merges_clears_and_indexes_email(client: Client) -> None:
    await client.batch(person("1", attributes={"email": "A@x.io", "plan": "pro", "seats": 3}))
    await client.batch(person("1", attributes={"plan": "", "seats": 4, "tier": None, "city": "Oslo"}))
    state = client.emu.state
    p = state.person(id="1")
    assert p is not None and p.attributes == {"email": "A@x.io", "seats": 4, "city": "Oslo"}
    assert state.person(email="a@x.io") is p and state.person(cio_id=p.cio_id) is p
    await client.batch(
        {
            "type": "person",
            "identifiers": {"cio_id": p.cio_id},
            "action": "identify",
            "attributes": {"via": "cio"},
        }
    )
    await client.batch(
        {
            "type": "person",
            "identifiers": {"email": "a@x.io"},
            "action": "identify",
            "attributes": {"via": "email"},
        }
    )
    assert p.attributes["via"] == "email" and len(state.people) == 1


async def test_update_only_never_creates(client: Client) -> None:
    await client.batch(person("1", attributes={"a": 1}))
    status, _ = await client.batch(
        person("1", attributes={"_update": True, "a": 2}), person("2", attributes={"_update": True, "a": 3})
    )
    assert status == 200
    state = client.emu.state
    assert state.person(id="1").attributes == {"a": 2}  # type: ignore[union-attr]
    assert state.person(id="2") is None
    assert [(i.action, i.identifiers) for i in state.ignored] == [("identify", {"id": "2"})]
    assert "update-only" in state.ignored[0].reason


async def test_delete_person_removes_relationships_devices_and_segment_membership(client: Client) -> None:
    seg = client.emu.state.create_segment("vip")
    await client.batch(
        person(
            "1",
            action="add_relationships",
            cio_relationships=[{"identifiers": {"object_type_id": "1", "object_id": "acme"}}],
        ),
        person("1", action="add_device", device={"token": "tok", "platform": "ios"}),
    )
    await client.call("POST", f"/api/v1/segments/{seg.id}/add_customers", {"ids": ["1"]})
    assert seg.members
    await client.batch(person("1", action="delete"), person("nobody", action="delete"))
    state = client.emu.state
    assert state.people == {} and state.relationships == {} and state.devices == {} and not seg.members
    assert state.object("1", "acme") is not None  # the object stays
    assert [i.identifiers for i in state.ignored] == [{"id": "nobody"}]


async def test_events_are_recorded_and_deduplicated_by_id(client: Client) -> None:
    ev = person(
        "1", action="event", name="purchase", id="01HZX", timestamp=1700000000, attributes={"price": 9}
    )
    await client.batch(
        ev, ev, person("1", action="page", name="/pricing"), person("1", action="screen", name="Home")
    )
    await client.batch(ev)
    await client.batch({"type": "person", "action": "event", "anonymous_id": "anon-1", "name": "visit"})
    state = client.emu.state
    events = state.events_of("1")
    assert [(e.action, e.name) for e in events] == [
        ("event", "purchase"),
        ("page", "/pricing"),
        ("screen", "Home"),
    ]
    assert events[0].timestamp == 1700000000 and events[0].attributes == {"price": 9}
    assert [i.reason for i in state.ignored] == ["duplicate event id 01HZX"] * 2
    anonymous = [e for e in state.events if e.person is None]
    assert len(anonymous) == 1 and anonymous[0].anonymous_id == "anon-1"


async def test_objects_and_relationships(client: Client) -> None:
    await client.batch(
        obj("acme", attributes={"name": "Acme", "plan": "ent"}),
        obj("acme", attributes={"plan": ""}),
        person(
            "1",
            attributes={"a": 1},
            cio_relationships=[
                {
                    "identifiers": {"object_type_id": "1", "object_id": "acme"},
                    "relationship_attributes": {"role": "admin"},
                }
            ],
        ),
        obj(
            "acme",
            action="add_relationships",
            cio_relationships=[{"identifiers": {"id": "2"}, "relationship_attributes": {"role": "user"}}],
        ),
        person(
            "1",
            action="add_relationships",
            cio_relationships=[{"identifiers": {"object_type_id": "2", "object_id": "course-9"}}],
        ),  # object does not exist yet
    )
    state = client.emu.state
    assert state.object("1", "acme").attributes == {"name": "Acme"}  # type: ignore[union-attr]
    assert state.object("2", "course-9") is not None  # created by the relationship
    assert state.relationships_of("1") == {("1", "acme"): {"role": "admin"}, ("2", "course-9"): {}}
    assert state.relationships_of("2") == {("1", "acme"): {"role": "user"}}
    await client.batch(
        person(
            "1",
            action="delete_relationships",
            cio_relationships=[{"identifiers": {"object_type_id": "2", "object_id": "course-9"}}],
        )
    )
    assert set(state.relationships_of("1")) == {("1", "acme")}
    await client.batch(obj("acme", action="delete"))
    assert state.object("1", "acme") is None and state.relationships == {}
    _, body, _ = await client.call("GET", "/v1/object_types")
    assert body == {"types": [{"id": "2", "name": "type 2"}]}


async def test_devices(client: Client) -> None:
    await client.batch(
        person(
            "1",
            action="add_device",
            device={
                "token": "tok",
                "platform": "ios",
                "last_used": 1700000000,
                "attributes": {"app_version": "2.1"},
            },
        )
    )
    device = client.emu.state.devices["tok"]
    assert (device.platform, device.last_used, device.attributes) == (
        "ios",
        1700000000,
        {"app_version": "2.1"},
    )
    await client.batch(person("2", action="add_device", device={"token": "tok", "platform": "ios"}))
    second = client.emu.state.person(id="2")
    assert second is not None and client.emu.state.devices["tok"].person == second.cio_id
    await client.batch(person("2", action="delete_device", device={"token": "tok"}))
    assert client.emu.state.devices == {}


async def test_faulted_request_applies_nothing(client: Client) -> None:
    client.emu.faults.error_rate = 1.0
    status, _ = await client.batch(person("1"))
    assert status in (500, 503)
    assert client.emu.state.people == {}


# -- v1 segments and App API -------------------------------------------------------------------------------


async def test_segments_create_list_get_and_membership(client: Client) -> None:
    status, body, _ = await client.call(
        "POST", "/v1/segments", {"segment": {"name": "VIP", "description": "d"}}
    )
    assert status == 200 and body["segment"]["type"] == "manual" and body["segment"]["name"] == "VIP"
    sid = body["segment"]["id"]
    assert (await client.call("GET", f"/v1/segments/{sid}"))[1]["segment"]["id"] == sid
    assert [s["id"] for s in (await client.call("GET", "/v1/segments"))[1]["segments"]] == [sid]
    assert (await client.call("GET", "/v1/segments/999"))[0] == 404
    assert (await client.call("POST", "/v1/segments", {"name": "no wrapper"}))[0] == 400

    await client.batch(person("1", attributes={"email": "one@x.io"}), person("2"), person("3"))
    status, _, _ = await client.call(
        "POST", f"/api/v1/segments/{sid}/add_customers", {"ids": ["1", "2", "ghost"]}
    )
    assert status == 200
    await client.call("POST", f"/api/v1/segments/{sid}/add_customers?id_type=email", {"ids": ["one@x.io"]})
    await client.call("POST", f"/api/v1/segments/{sid}/remove_customers", {"ids": ["2"]})
    state = client.emu.state
    assert state.segment_member_ids(sid) == {"1"}
    assert state.ignored[-1].identifiers == {"id": "ghost"}
    _, membership, _ = await client.call("GET", f"/v1/segments/{sid}/membership")
    assert membership["ids"] == ["1"]


async def test_segment_member_errors(client: Client) -> None:
    sid = client.emu.state.create_segment("m").id
    dyn = client.emu.state.create_segment("auto", type="dynamic").id
    path = f"/api/v1/segments/{sid}/add_customers"
    assert (await client.call("POST", "/api/v1/segments/999/add_customers", {"ids": ["1"]}))[0] == 404
    assert (await client.call("POST", path, {"ids": []}))[0] == 400
    assert (await client.call("POST", path, {"ids": [str(i) for i in range(1001)]}))[0] == 400
    assert (await client.call("POST", path + "?id_type=phone", {"ids": ["1"]}))[0] == 400
    status, body, _ = await client.call("POST", f"/api/v1/segments/{dyn}/add_customers", {"ids": ["1"]})
    assert status == 400 and "data-driven" in body["meta"]["errors"][0]
    _, body, _ = await client.call("GET", f"/v1/segments/{dyn}")
    assert body["segment"]["type"] == "dynamic"


async def test_collections(client: Client) -> None:
    rows = [{"sku": "a", "price": 1}, {"sku": "b", "price": 2}]
    status, body, _ = await client.call("POST", "/v1/collections", {"name": "products", "data": rows})
    assert status == 200 and body["collection"]["rows"] == 2
    cid = body["collection"]["id"]
    status, body, _ = await client.call(
        "PUT", f"/v1/collections/{cid}", {"data": [{"sku": "c"}], "name": "items"}
    )
    assert status == 200 and body["collection"]["name"] == "items"
    assert client.emu.state.collections[cid].data == [{"sku": "c"}]
    _, listing, _ = await client.call("GET", "/v1/collections")
    assert [c["id"] for c in listing["collections"]] == [cid]
    assert (await client.call("GET", f"/v1/collections/{cid}/content"))[1] == [{"sku": "c"}]
    assert (await client.call("PUT", "/v1/collections/999", {"data": []}))[0] == 404
    assert (await client.call("POST", "/v1/collections", {"data": rows}))[0] == 400  # no name


async def test_collection_limits(client: Client) -> None:
    big_row = [{"blob": "x" * COLLECTION_ROW_MAX_BYTES}]
    status, body, _ = await client.call("POST", "/v1/collections", {"name": "c", "data": big_row})
    assert status == 400 and "row 0" in body["meta"]["error"] and "10000" in body["meta"]["error"]
    many = [{"blob": "y" * 9000} for _ in range(1200)]  # ~10.8 MB in all, every row under 10 KB
    status, body, _ = await client.call("POST", "/v1/collections", {"name": "c", "data": many})
    assert status == 400 and "per collection" in body["meta"]["error"]
    assert client.emu.state.collections == {}


# -- admin -------------------------------------------------------------------------------------------------


async def test_admin_state_stats_faults_reset(client: Client) -> None:
    await client.batch(person("1", attributes={"a": 1}))
    _, state, _ = await client.call("GET", "/_emulator/state", headers={})
    assert state["events"] == []
    assert state["people"][0]["id"] == "1" and set(state) >= {
        "people",
        "events",
        "objects",
        "relationships",
        "devices",
        "segments",
        "collections",
        "ignored",
    }
    _, stats, _ = await client.call("GET", "/_emulator/stats", headers={})
    assert stats["total"] == 1 and stats["statuses"] == {"200": 1} and stats["items"] == 1
    status, faults, _ = await client.call(
        "POST", "/_emulator/faults", {"error_rate": 0.5, "reject_ids": ["9"]}, headers={}
    )
    assert status == 200 and faults["error_rate"] == 0.5 and faults["reject_ids"] == ["9"]
    assert client.emu.faults.error_rate == 0.5
    assert (await client.call("POST", "/_emulator/faults", {"bogus": 1}, headers={}))[0] == 400
    _, seg, _ = await client.call(
        "POST", "/_emulator/segments", {"name": "auto", "type": "dynamic"}, headers={}
    )
    assert seg["segment"]["type"] == "dynamic"
    await client.call("POST", "/_emulator/reset", headers={})
    assert client.emu.state.people == {} and client.emu.faults.error_rate == 0.0
    assert client.emu.requests_per_second() == {}


async def test_identifier_conflict_is_rejected_in_207(client: Client) -> None:
    await client.batch(person("1", attributes={"email": "taken@x.io"}))
    status, body = await client.batch(
        person("2", attributes={"email": "taken@x.io", "a": 1}),
        person("1", attributes={"email": "taken@x.io", "b": 2}),
    )
    assert status == 207
    assert [(e["batch_index"], e["reason"], e["field"]) for e in body["errors"]] == [
        (0, "conflict", "attributes.email")
    ]
    state = client.emu.state
    assert state.person(id="2") is None and state.person(email="taken@x.io") is state.person(id="1")
    status, body, _ = await client.call(
        "POST",
        "/api/v2/entity",
        {
            "type": "person",
            "identifiers": {"email": "new@x.io"},
            "action": "identify",
            "attributes": {"id": "1"},
        },
    )
    assert status == 400 and body["errors"][0]["field"] == "attributes.id"


async def test_suppress_unsuppress_and_merge(client: Client) -> None:
    await client.batch(
        person("1", attributes={"a": 1}),
        person("2", attributes={"a": 2, "b": 2}),
        person("2", action="event", name="e"),
    )
    await client.batch(
        {"type": "person", "action": "merge", "primary": {"id": "1"}, "secondary": {"id": "2"}}
    )
    state = client.emu.state
    assert state.person(id="2") is None
    assert state.person(id="1").attributes == {"a": 1, "b": 2}  # type: ignore[union-attr]
    assert [e.name for e in state.events_of("1")] == ["e"]
    await client.batch(person("1", action="suppress"), person("1", attributes={"back": True}))
    assert state.person(id="1") is None and state.ignored[-1].reason == "identifier is suppressed"
    await client.batch(person("1", action="unsuppress"), person("1", attributes={"back": True}))
    assert state.person(id="1").attributes == {"back": True}  # type: ignore[union-attr]


async def test_entity_anonymous_event_and_update_only_of_unknown_cio_id(client: Client) -> None:
    status, _, _ = await client.call(
        "POST",
        "/api/v2/entity",
        {"type": "person", "action": "screen", "anonymous_id": "a-9", "name": "Home"},
    )
    assert status == 200 and client.emu.state.events[0].anonymous_id == "a-9"
    status, _, _ = await client.call(
        "POST",
        "/api/v2/entity",
        {"type": "person", "identifiers": {"cio_id": "nope"}, "action": "identify", "attributes": {"a": 1}},
    )
    assert status == 200 and client.emu.state.people == {}
    assert client.emu.state.ignored[-1].reason == "no such person"


def test_public_api() -> None:
    import dbt_cio.emulator as package

    assert sorted(package.__all__) == sorted(
        [
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
    )
    assert all(hasattr(package, name) for name in package.__all__)


async def test_credentials_can_be_revoked_mid_run(client: Client) -> None:
    assert (await client.batch(person("1")))[0] == 200
    client.emu.set_credentials(api_key="rotated")
    assert (await client.batch(person("2")))[0] == 401
    assert client.emu.state.person(id="2") is None


async def test_state_json_names_people_by_id(client: Client) -> None:
    await client.batch(
        person("1", action="event", name="e"),
        person("1", action="add_device", device={"token": "t", "platform": "ios"}),
        person(
            "1",
            action="add_relationships",
            cio_relationships=[{"identifiers": {"object_type_id": "1", "object_id": "a"}}],
        ),
    )
    _, state, _ = await client.call("GET", "/_emulator/state", headers={})
    assert state["events"][0]["person_id"] == "1" and state["devices"][0]["person_id"] == "1"
    assert state["relationships"][0]["person_id"] == "1" and state["objects"][0]["object_id"] == "a"
