"""What the emulated workspace holds, and how each Track v2 action changes it.

The rules follow Customer.io's documentation (API-NOTES.md and the OpenAPI document). Where the docs are
silent the emulator picks the permissive reading and says so here:

- An action that cannot apply (update-only identify of a missing person, delete of a missing person, an
  event with an id already seen, anything addressed by an unknown ``cio_id``, identifiers that are
  suppressed) is accepted (Customer.io answers 200) but changes nothing; it is listed in
  :attr:`State.ignored` so tests can see it.
- Events, devices and relationships addressed to a missing person by ``id`` or ``email`` create that
  person, as an ``identify`` would. A relationship to a missing object creates the object (no attributes).
- Attribute values ``""`` and ``null`` remove the attribute (documented for objects and relationships,
  done in practice for people).
- A device token belongs to one person: adding it to another person moves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ObjectKey = tuple[str, str]  # (object_type_id, object_id)
RelationshipKey = tuple[str, str, str]  # (person cio_id, object_type_id, object_id)


@dataclass
class Person:
    cio_id: str
    id: str | None = None
    email: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"cio_id": self.cio_id, "id": self.id, "email": self.email, "attributes": self.attributes}


@dataclass
class Event:
    action: str  # event | page | screen
    name: str
    person: str | None  # cio_id, None for an anonymous event
    anonymous_id: str | None = None
    id: str | None = None
    timestamp: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CioObject:
    object_type_id: str
    object_id: str
    cio_object_id: str
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Device:
    token: str
    person: str  # cio_id
    platform: str | None = None
    last_used: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Segment:
    id: int
    name: str
    description: str = ""
    type: str = "manual"  # or "dynamic" (data-driven: the API cannot change its members)
    members: set[str] = field(default_factory=set)  # cio_ids

    def as_json(self, with_members: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "type": self.type,
            "state": "finished",
            "tags": None,
            "deduplicate_id": f"{self.id}:0",
        }
        if with_members:
            out["members"] = sorted(self.members)
        return out


@dataclass
class Collection:
    id: int
    name: str
    data: list[Any] = field(default_factory=list)
    url: str | None = None
    created_at: int = 0
    updated_at: int = 0

    def as_json(self, with_data: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "rows": len(self.data),
            "schema": sorted({k for r in self.data if isinstance(r, dict) for k in r}),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.url is not None:
            out["url"] = self.url
        if with_data:
            out["data"] = self.data
        return out


@dataclass(frozen=True)
class Conflict:
    """Why an item could not be applied: it would give two people the same identifier."""

    field: str
    message: str


@dataclass(frozen=True)
class Ignored:
    """An accepted action that changed nothing, and why."""

    type: str
    action: str
    identifiers: Any
    reason: str


def _merge(target: dict[str, Any], changes: Mapping[str, Any], skip: Iterable[str] = ()) -> None:
    for key, value in changes.items():
        if key in skip:
            continue
        if value is None or value == "":
            target.pop(key, None)
        else:
            target[key] = value


class State:
    """The workspace: people, events, objects, relationships, devices, segments, collections.

    Read it directly in tests (``state.people``, ``state.person(id="42")``); change it only through
    :meth:`apply` (a v2 item) and the segment/collection methods, as the server does.
    """

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything (the same object stays in use, so references to it stay valid)."""
        self.people: dict[str, Person] = {}  # by cio_id
        self.events: list[Event] = []
        self.objects: dict[ObjectKey, CioObject] = {}
        self.relationships: dict[RelationshipKey, dict[str, Any]] = {}
        self.devices: dict[str, Device] = {}  # by token
        self.segments: dict[int, Segment] = {}
        self.collections: dict[int, Collection] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.suppressed: set[tuple[str, str]] = set()  # (id_type, value)
        self.ignored: list[Ignored] = []
        self._by_id: dict[str, str] = {}
        self._by_email: dict[str, str] = {}
        self._event_ids: set[str] = set()
        self._cio_objects: dict[str, ObjectKey] = {}
        self._next_person = 1
        self._next_object = 1
        self._next_segment = 1
        self._next_collection = 1

    # -- reading -----------------------------------------------------------------------------------------

    def person(
        self, id: str | None = None, email: str | None = None, cio_id: str | None = None
    ) -> Person | None:
        """The person with this ``id``, ``email`` or ``cio_id`` (give one), or ``None``."""
        if id is not None:
            cio_id = self._by_id.get(id)
        elif email is not None:
            cio_id = self._by_email.get(email.lower())
        return self.people.get(cio_id) if cio_id is not None else None

    def object(self, object_type_id: str, object_id: str) -> CioObject | None:
        return self.objects.get((str(object_type_id), str(object_id)))

    def events_of(self, id: str) -> list[Event]:
        """Events of the person with this ``id``, in arrival order."""
        cio = self._by_id.get(id)
        return [e for e in self.events if cio is not None and e.person == cio]

    def relationships_of(self, id: str) -> dict[ObjectKey, dict[str, Any]]:
        """The objects the person with this ``id`` is related to, with relationship attributes."""
        cio = self._by_id.get(id)
        return {(t, o): a for (p, t, o), a in self.relationships.items() if p == cio}

    def segment_member_ids(self, segment_id: int, id_type: str = "id") -> set[str]:
        """Members of a segment as ``id`` (or ``email``/``cio_id``) values."""
        members = self.segments[segment_id].members
        return {getattr(self.people[c], id_type) for c in members if c in self.people} - {None}

    def _person_id(self, cio_id: str | None) -> str | None:
        person = self.people.get(cio_id) if cio_id is not None else None
        return person.id if person is not None else None

    def as_json(self) -> dict[str, Any]:
        """Everything, as JSON; records that point at a person carry its ``person_id`` for reading."""
        return {
            "people": [p.as_json() for p in self.people.values()],
            "events": [{**e.as_json(), "person_id": self._person_id(e.person)} for e in self.events],
            "objects": [o.as_json() for o in self.objects.values()],
            "relationships": [
                {
                    "person": p,
                    "person_id": self._person_id(p),
                    "object_type_id": t,
                    "object_id": o,
                    "attributes": a,
                }
                for (p, t, o), a in self.relationships.items()
            ],
            "devices": [
                {**d.as_json(), "person_id": self._person_id(d.person)} for d in self.devices.values()
            ],
            "segments": [s.as_json(with_members=True) for s in self.segments.values()],
            "collections": [c.as_json(with_data=True) for c in self.collections.values()],
            "deliveries": self.deliveries,
            "suppressed": sorted(list(s) for s in self.suppressed),
            "ignored": [i.__dict__ for i in self.ignored],
        }

    # -- people ------------------------------------------------------------------------------------------

    def _find(self, identifiers: Mapping[str, Any]) -> Person | None:
        return self.person(identifiers.get("id"), identifiers.get("email"), identifiers.get("cio_id"))

    def _upsert(self, identifiers: Mapping[str, Any], create: bool = True) -> Person | None:
        person = self._find(identifiers)
        if person is not None or not create or "cio_id" in identifiers:
            return person
        cio_id = f"{0xA3000000 + self._next_person:x}"
        self._next_person += 1
        person = Person(cio_id)
        self.people[cio_id] = person
        self._set_id(person, identifiers.get("id"))
        self._set_email(person, identifiers.get("email"))
        return person

    def _set_id(self, person: Person, value: Any) -> None:
        if value is None or value == person.id:
            return
        if person.id is not None:
            self._by_id.pop(person.id, None)
        person.id = str(value) if value != "" else None
        if person.id is not None:
            self._by_id[person.id] = person.cio_id

    def _set_email(self, person: Person, value: Any) -> None:
        if value is None or value == person.email:
            return
        if person.email is not None:
            self._by_email.pop(person.email.lower(), None)
        person.email = str(value) if value != "" else None
        if person.email is not None:
            self._by_email[person.email.lower()] = person.cio_id

    def _suppressed(self, identifiers: Mapping[str, Any]) -> bool:
        if not self.suppressed:
            return False
        return any((k, str(v)) in self.suppressed for k, v in identifiers.items())

    def _remove_person(self, person: Person) -> None:
        self.people.pop(person.cio_id, None)
        if person.id is not None:
            self._by_id.pop(person.id, None)
        if person.email is not None:
            self._by_email.pop(person.email.lower(), None)
        for key in [k for k in self.relationships if k[0] == person.cio_id]:
            del self.relationships[key]
        for token in [t for t, d in self.devices.items() if d.person == person.cio_id]:
            del self.devices[token]
        for segment in self.segments.values():
            segment.members.discard(person.cio_id)

    # -- objects -----------------------------------------------------------------------------------------

    def _object(self, identifiers: Mapping[str, Any], create: bool = True) -> CioObject | None:
        if "cio_object_id" in identifiers:
            key = self._cio_objects.get(identifiers["cio_object_id"])
            return self.objects.get(key) if key is not None else None
        key = (str(identifiers["object_type_id"]), str(identifiers["object_id"]))
        obj = self.objects.get(key)
        if obj is None and create:
            obj = CioObject(key[0], key[1], f"ob{self._next_object:010x}")
            self._next_object += 1
            self.objects[key] = obj
            self._cio_objects[obj.cio_object_id] = key
        return obj

    def _relate(
        self, person: Person, obj: CioObject, attributes: Mapping[str, Any] | None, add: bool
    ) -> None:
        key = (person.cio_id, obj.object_type_id, obj.object_id)
        if add:
            _merge(self.relationships.setdefault(key, {}), attributes or {})
        else:
            self.relationships.pop(key, None)

    # -- applying v2 items -------------------------------------------------------------------------------

    def apply(self, item: Mapping[str, Any]) -> Conflict | None:
        """Apply one validated v2 item (person, object or delivery).

        Returns a :class:`Conflict` (and changes nothing) when an identify would give a person an
        ``email`` or ``id`` that already belongs to someone else; Customer.io refuses those items too.
        """
        kind, action = item["type"], item["action"]
        if kind == "person":
            return self._apply_person(item, action)
        if kind == "object":
            self._apply_object(item, action)
        else:
            self.deliveries.append(dict(item))
        return None

    def _conflict(self, identifiers: Mapping[str, Any], attributes: Mapping[str, Any]) -> Conflict | None:
        target = self._find(identifiers)
        for key in ("email", "id"):
            value = attributes.get(key)
            if value is None or value == "":
                continue
            owner = self.person(**{key: str(value)})
            if owner is not None and owner is not target:
                return Conflict(
                    f"attributes.{key}",
                    f"{key} {value!r} already belongs to another person (cio_id {owner.cio_id})",
                )
        return None

    def _ignore(self, item: Mapping[str, Any], reason: str) -> None:
        ids = item.get("identifiers", item.get("anonymous_id", {"primary": item.get("primary")}))
        self.ignored.append(Ignored(item["type"], item["action"], ids, reason))

    def _apply_person(self, item: Mapping[str, Any], action: str) -> Conflict | None:
        if action in ("event", "page", "screen"):
            self._event(item, action)
            return None
        if action == "merge":
            self._merge_people(item)
            return None
        identifiers: Mapping[str, Any] = item["identifiers"]
        if action == "unsuppress":
            self.suppressed -= {(k, str(v)) for k, v in identifiers.items()}
            return None
        if self._suppressed(identifiers):
            self._ignore(item, "identifier is suppressed")
            return None
        if action == "suppress":
            person = self._find(identifiers)
            if person is not None:
                self._remove_person(person)
            self.suppressed |= {(k, str(v)) for k, v in identifiers.items()}
            return None
        attributes: Mapping[str, Any] = item.get("attributes") or {}
        if action == "identify" and ("email" in attributes or "id" in attributes):
            conflict = self._conflict(identifiers, attributes)
            if conflict is not None:
                return conflict
        update_only = action == "identify" and attributes.get("_update") is True
        creates = action in ("identify", "add_relationships", "add_device") and not update_only
        person = self._upsert(identifiers, create=creates)
        if person is None:
            reason = (
                "update-only identify of a person who does not exist" if update_only else "no such person"
            )
            self._ignore(item, reason)
            return None
        if action == "identify":
            self._set_id(person, attributes.get("id"))
            self._set_email(person, attributes.get("email"))
            _merge(person.attributes, attributes, skip=("_update", "id"))
            for rel in item.get("cio_relationships") or []:
                obj = self._object(rel["identifiers"])
                if obj is not None:
                    self._relate(person, obj, rel.get("relationship_attributes"), add=True)
        elif action == "delete":
            self._remove_person(person)
        elif action in ("add_relationships", "delete_relationships"):
            add = action == "add_relationships"
            for rel in item["cio_relationships"]:
                obj = self._object(rel["identifiers"], create=add)
                if obj is not None:
                    self._relate(person, obj, rel.get("relationship_attributes"), add=add)
        elif action == "add_device":
            device = item["device"]
            _merge(
                self.devices.setdefault(device["token"], Device(device["token"], person.cio_id)).attributes,
                device.get("attributes") or {},
            )
            record = self.devices[device["token"]]
            record.person = person.cio_id
            record.platform = device.get("platform", record.platform)
            record.last_used = device.get("last_used", record.last_used)
        elif action == "delete_device":
            token = item["device"]["token"]
            if token in self.devices and self.devices[token].person == person.cio_id:
                del self.devices[token]
            else:
                self._ignore(item, "no such device for this person")
        return None

    def _event(self, item: Mapping[str, Any], action: str) -> None:
        event_id = item.get("id")
        if event_id is not None and event_id in self._event_ids:
            self._ignore(item, f"duplicate event id {event_id}")
            return
        person: Person | None = None
        if "identifiers" in item:
            if self._suppressed(item["identifiers"]):
                self._ignore(item, "identifier is suppressed")
                return
            person = self._upsert(item["identifiers"])
            if person is None:
                self._ignore(item, "no such person")
                return
        if event_id is not None:
            self._event_ids.add(event_id)
        self.events.append(
            Event(
                action=action,
                name=item["name"],
                person=person.cio_id if person else None,
                anonymous_id=item.get("anonymous_id"),
                id=event_id,
                timestamp=item.get("timestamp"),
                attributes=dict(item.get("attributes") or {}),
            )
        )

    def _merge_people(self, item: Mapping[str, Any]) -> None:
        primary, secondary = self._find(item["primary"]), self._find(item["secondary"])
        if primary is None or secondary is None or primary is secondary:
            self._ignore(item, "merge needs two existing, different people")
            return
        for key, value in secondary.attributes.items():
            primary.attributes.setdefault(key, value)
        for event in self.events:
            if event.person == secondary.cio_id:
                event.person = primary.cio_id
        for (p, t, o), attrs in list(self.relationships.items()):
            if p == secondary.cio_id:
                self.relationships.setdefault((primary.cio_id, t, o), attrs)
        for device in self.devices.values():
            if device.person == secondary.cio_id:
                device.person = primary.cio_id
        for segment in self.segments.values():
            if secondary.cio_id in segment.members:
                segment.members.add(primary.cio_id)
        self._remove_person(secondary)
        if primary.email is None and secondary.email is not None:
            self._set_email(primary, secondary.email)

    def _apply_object(self, item: Mapping[str, Any], action: str) -> None:
        identifiers = item["identifiers"]
        creates = action in ("identify", "identify_anonymous", "add_relationships")
        obj = self._object(identifiers, create=creates)
        if obj is None:
            self._ignore(item, "no such object")
            return
        if action in ("identify", "identify_anonymous"):
            _merge(obj.attributes, item.get("attributes") or {})
        if action == "delete":
            del self.objects[(obj.object_type_id, obj.object_id)]
            self._cio_objects.pop(obj.cio_object_id, None)
            for key in [k for k in self.relationships if (k[1], k[2]) == (obj.object_type_id, obj.object_id)]:
                del self.relationships[key]
            return
        if action in ("identify", "add_relationships", "delete_relationships"):
            add = action != "delete_relationships"
            for rel in item.get("cio_relationships") or []:
                person = self._upsert(rel["identifiers"], create=add)
                if person is None:
                    self._ignore(item, f"no such person {rel['identifiers']}")
                    continue
                self._relate(person, obj, rel.get("relationship_attributes"), add=add)

    # -- segments and collections ------------------------------------------------------------------------

    def create_segment(self, name: str, description: str = "", type: str = "manual") -> Segment:
        segment = Segment(self._next_segment, name, description, type)
        self._next_segment += 1
        self.segments[segment.id] = segment
        return segment

    def change_segment(self, segment: Segment, ids: Iterable[str], id_type: str, add: bool) -> None:
        """Add or remove people; identifiers of people who do not exist are ignored."""
        for value in ids:
            person = self.person(**{id_type: value})
            if person is None:
                self.ignored.append(
                    Ignored(
                        "segment",
                        "add" if add else "remove",
                        {id_type: value},
                        f"no such person in segment {segment.id}",
                    )
                )
            elif add:
                segment.members.add(person.cio_id)
            else:
                segment.members.discard(person.cio_id)

    def create_collection(self, name: str, data: list[Any], url: str | None, now: int) -> Collection:
        collection = Collection(self._next_collection, name, data, url, now, now)
        self._next_collection += 1
        self.collections[collection.id] = collection
        return collection
