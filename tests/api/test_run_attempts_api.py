"""The run detail shows each attempt of a run and the checkpoint the next one resumed from."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from hub.core import runs
from tests.api.conftest import PLUGIN_ID, World

INSTALL = f"/api/v1/tenants/acme/plugins/{PLUGIN_ID}"


def test_run_detail_shows_attempts_with_the_checkpoint_each_resumed_from(
    world: World, client: TestClient[Litestar]
) -> None:
    db = world.hub.db
    put = client.put(
        INSTALL, headers=world.acme, json={"enabled": True, "config": {"account": "A"}}
    )
    assert put.status_code == 200, put.text
    run_id = client.post(f"{INSTALL}/jobs/inventory", headers=world.acme).json()["run_id"]
    first = runs.claim(db, run_id, "h:1:1", worker_name="h/serve-0", boot_id="boot-1")
    assert first is not None
    with db.session() as session:  # what a job does with its first effects
        runs.save_checkpoint(session, run_id, first.attempts, {"pages": 3}, counts={"updated": 7})
    assert runs.requeue_own_runs(db, "h/serve-0", "boot-2") == [run_id]  # the process restarted
    second = runs.claim(db, run_id, "h:2:1", worker_name="h/serve-0", boot_id="boot-2")
    assert second is not None
    assert runs.finish(db, run_id, "succeeded", attempt=second.attempts, counts={"updated": 9})

    one = client.get(f"/api/v1/tenants/acme/runs/{run_id}", headers=world.acme).json()
    assert one["state"] == "succeeded" and one["checkpoint"] == {"pages": 3}
    assert [(a["attempt"], a["worker"], a["outcome"]) for a in one["attempts"]] == [
        (1, "h/serve-0", "lost"),
        (2, "h/serve-0", "succeeded"),
    ]
    assert [a["resumed_from"] for a in one["attempts"]] == [None, {"pages": 3}]
    assert one["attempts"][0]["message"] == "requeued: its worker restarted"
    assert all(a["started_at"] and a["finished_at"] for a in one["attempts"])
    listed = client.get("/api/v1/tenants/acme/runs", headers=world.acme).json()["items"]
    assert [len(r["attempts"]) for r in listed] == [2]
