"""The queue of webhook-triggered syncs: one waiting per selection, bounded, closed on shutdown."""

from __future__ import annotations

import threading

from dbt_cio.serve.queue import SyncQueue, Trigger


def _trigger(n: int, job: int = 7) -> Trigger:
    return Trigger(f"wev_{n}", job, 100 + n)


def test_events_for_a_selection_waiting_join_it() -> None:
    queue = SyncQueue(max_waiting=2)
    offer, first = queue.offer(_trigger(1), ("tag:cio",))
    assert offer == "queued" and first is not None
    assert queue.take(0) is first and first.state == "running"
    # two events while it runs: one more sync, which reads the newest run
    assert queue.offer(_trigger(2), ("tag:cio",))[0] == "queued"
    offer, second = queue.offer(_trigger(3), ("tag:cio",))
    assert offer == "coalesced" and second is not None and second.trigger.run_id == 103
    assert [t.event_id for t in second.triggers] == ["wev_2", "wev_3"]
    assert queue.counts() == {"running": 1, "waiting": 1, "max_waiting": 2}

    assert queue.offer(_trigger(4, job=8), ("tag:other",))[0] == "queued"
    assert queue.offer(_trigger(5, job=9), ("tag:third",)) == ("full", None)  # two wait already
    assert queue.offer(_trigger(6), ("tag:cio",))[0] == "coalesced"  # joining costs no room

    queue.finish(first, "success", 0, syncs=[{"sync": "cio_people"}])
    assert queue.take(0) is second  # oldest first
    states = [(r["state"], r["run_id"]) for r in queue.recent()]
    assert states == [("queued", 104), ("running", 106), ("success", 101)]


def test_close_drops_what_waits_and_wakes_the_worker() -> None:
    queue = SyncQueue()
    taken: list[object] = []
    worker = threading.Thread(target=lambda: taken.append(queue.take()))
    worker.start()
    worker.join(0.05)
    assert worker.is_alive()  # waiting for work
    queue.close()
    worker.join(5)
    assert taken == [None]

    queue = SyncQueue()
    queue.offer(_trigger(1), ())
    queue.take(0)
    queue.offer(_trigger(2), ())
    dropped = queue.close()
    assert [d.trigger.run_id for d in dropped] == [102] and dropped[0].state == "not run"
    assert queue.take(0) is None and queue.offer(_trigger(3), ("x",)) == ("full", None)
