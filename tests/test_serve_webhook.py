"""A webhook delivery, pure: its signature and its event; which jobs sync what (``--job``)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from dbt_cio.errors import UsageError
from dbt_cio.serve.routes import JobRoutes
from dbt_cio.serve.webhook import BadEvent, WebhookEvent, sign, verify

SECRET = "whsec-unit-0123456789"
BODY = json.dumps({"accountId": 1, "eventId": "wev_2Zx", "eventType": "job.run.completed",
                   "data": {"jobId": "123", "runId": "12345", "runStatus": "Success"}}).encode()  # fmt: skip


def test_the_signature_is_the_hex_hmac_sha256_of_the_raw_body() -> None:
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET) == expected
    assert verify(BODY, expected, SECRET) and verify(BODY, f" {expected.upper()} ", SECRET)


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=" + "0" * 64, sign(BODY, "another-secret"), sign(BODY + b" ", SECRET), "é" * 64],
    ids=["missing", "empty", "garbage", "other-secret", "other-body", "not-ascii"],
)
def test_anything_else_is_refused(header: str | None) -> None:
    assert not verify(BODY, header, SECRET)
    assert not verify(BODY, sign(BODY, ""), "")  # no secret: nothing is ever valid


def test_the_event_fields() -> None:
    event = WebhookEvent.parse(BODY)
    assert (event.event_id, event.event_type, event.account_id, event.job_id, event.run_id, event.run_status) == (
        "wev_2Zx", "job.run.completed", 1, 123, 12345, "Success",
    )  # fmt: skip
    assert (
        WebhookEvent.parse(b'{"eventId": "e", "eventType": "job.run.started", "data": {"jobId": 5}}').job_id
        == 5
    )
    for bad in (b"not json", b"[]", b'{"eventType": "job.run.completed"}'):
        with pytest.raises(BadEvent):
            WebhookEvent.parse(bad)


def test_job_routes() -> None:
    routes = JobRoutes.parse(["123=tag:cio", "456=cio_people cio_orders+", "789="])
    assert routes.selection(123) == ("tag:cio",) and routes.selection(456) == ("cio_people", "cio_orders+")
    assert routes.selection(789) == () and routes.selection(1) is None and routes.selection(None) is None
    assert "job 789: every model with a block" in routes.describe()
    every = JobRoutes.parse([], ["tag:cio"])
    assert every.every_job and every.selection(1) == ("tag:cio",) and every.selection(None) == ("tag:cio",)
    for bad in ("tag:cio", "abc=tag:cio", "0=x"):
        with pytest.raises(UsageError, match="JOB_ID=SELECTION"):
            JobRoutes.parse([bad])
    with pytest.raises(UsageError, match="given twice"):
        JobRoutes.parse(["1=a", "1=b"])


def test_the_server_settings_keep_their_secrets_out_of_reprs() -> None:
    from dbt_cio.engine.options import SyncOptions
    from dbt_cio.serve import ServeSettings

    env = {
        "DBT_CIO_WEBHOOK_SECRET": SECRET,
        "DBT_CLOUD_API_TOKEN": "dbtc_secret-token-0042",
        "DBT_CLOUD_ACCOUNT_ID": "1",
    }
    settings = ServeSettings.build(SyncOptions(environ=env), JobRoutes.parse(["1=tag:cio"]))
    assert SECRET not in repr(settings) and "dbtc_secret-token-0042" not in repr(settings)
    with pytest.raises(UsageError, match="set DBT_CIO_WEBHOOK_SECRET"):
        ServeSettings.build(SyncOptions(environ={**env, "DBT_CIO_WEBHOOK_SECRET": "short"}), JobRoutes())
    with pytest.raises(UsageError, match="set DBT_CLOUD_API_TOKEN"):
        ServeSettings.build(SyncOptions(environ={**env, "DBT_CLOUD_API_TOKEN": ""}), JobRoutes())
