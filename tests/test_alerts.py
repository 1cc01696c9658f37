"""Alerts without a run: where they go (URL rules, Slack or webhook, secrets masked), what they say (the
signed JSON body, the Slack text), and how they are delivered (brief retries, never raising)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from receiver import closed_port_url, receiver

from dbt_cio.alerts.delivery import DeliverySettings, deliver
from dbt_cio.alerts.messages import SIGNATURE_HEADER, Alert, signature, slack_body, webhook_body
from dbt_cio.alerts.targets import AlertSettings, AlertTarget
from dbt_cio.errors import UsageError

SLACK = "https://hooks.slack.com/services/T000/B000/s3cr3tTOKEN"


def _alert(**changes: object) -> Alert:
    values: dict[str, object] = {
        "kind": "failure",
        "sync": "cio_people",
        "model": "cio_people",
        "status": "rejected",
        "message": "1 row(s) rejected: identifier is longer than 150 bytes (e.g. key alice@example.com)",
        "counts": {"added": 3, "changed": 0, "removed": 0, "sent": 2, "accepted": 2, "rejected": 1},
        "reasons": [("identifier is longer than 150 bytes", 1)],
        "run_id": "r1",
        "invocation_id": "inv-1",
        "project": "analytics",
        "target": "prod",
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (SLACK, "slack"),
        ("https://HOOKS.SLACK.COM/services/x", "slack"),
        ("slack+https://chat.example.com/hooks/abc", "slack"),  # a Slack-compatible receiver (Mattermost)
        ("slack+http://127.0.0.1:9000/hooks/abc", "slack"),
        ("https://alerts.example.com/dbt-cio", "webhook"),
        ("http://127.0.0.1:8080/hook", "webhook"),
        ("http://[::1]:8080/hook", "webhook"),
    ],
)
def test_a_target_is_slack_or_a_webhook(url: str, expected: str) -> None:
    assert AlertTarget.parse(url, "--notify").format == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com/services/T000/B000/s3cr3tTOKEN",  # plain http off this machine
        "http://alerts.example.com/s3cr3tTOKEN",
        "slack+http://chat.example.com/s3cr3tTOKEN",
        "ftp://127.0.0.1/s3cr3tTOKEN",
        "hooks.slack.com/services/s3cr3tTOKEN",
        "https://user:s3cr3tTOKEN@alerts.example.com/",
    ],
)
def test_unsafe_targets_are_usage_errors_that_never_show_the_secret(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        AlertTarget.parse(url, "--notify")
    assert "s3cr3tTOKEN" not in str(caught.value) and "--notify" in str(caught.value)


def test_settings_merge_flags_and_the_environment_and_mask_secrets() -> None:
    env = {"DBT_CIO_NOTIFY": f" {SLACK} , http://127.0.0.1:9/a,", "DBT_CIO_NOTIFY_SECRET": "shh-secret"}
    settings = AlertSettings.from_config(["http://127.0.0.1:9/a", "https://alerts.example.com/x"], env)
    assert [t.format for t in settings.targets] == ["webhook", "webhook", "slack"]  # the duplicate once
    assert settings.secret == "shh-secret"
    shown = repr(settings) + repr(settings.targets) + str(settings)
    assert "s3cr3tTOKEN" not in shown and "shh-secret" not in shown and ":9/a" not in shown
    assert settings.targets[2].public == "https://hooks.slack.com/***"
    assert not AlertSettings.from_config([], {})
    with pytest.raises(UsageError, match="DBT_CIO_NOTIFY"):
        AlertSettings.from_config([], {"DBT_CIO_NOTIFY": "http://example.com/hook"})


def test_the_json_body_carries_the_run_and_is_signed_over_its_exact_bytes() -> None:
    body = webhook_body(_alert())
    doc = json.loads(body)
    assert doc["event"] == "sync.failed" and doc["sync"] == "cio_people" and doc["status"] == "rejected"
    assert doc["counts"]["rejected"] == 1 and doc["run_id"] == "r1" and doc["invocation_id"] == "inv-1"
    assert doc["top_rejection_reasons"] == [{"reason": "identifier is longer than 150 bytes", "count": 1}]
    assert doc["sent_at"].endswith("Z") and doc["target"] == "prod"
    expected = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert signature(body, "k3y") == expected
    assert signature(body + b" ", "k3y") != expected
    recovery = json.loads(webhook_body(_alert(kind="recovery", status="success", reasons=[])))
    assert recovery["event"] == "sync.recovered"


def test_the_slack_message_is_escaped_and_names_no_key() -> None:
    text = json.loads(slack_body(_alert(sync="a<b>&c")))["text"]
    assert "a&lt;b&gt;&amp;c" in text and "<b>" not in text
    assert "1 × identifier is longer than 150 bytes" in text and "inv-1" in text
    # the reasons never carry a sample key (a key can be an email address); the message is the sync's own
    assert text.count("alice@example.com") == 1


async def test_delivery_retries_briefly_then_reports_without_raising() -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    with receiver() as rx:
        rx.answers = [503, 500]  # two failures, then accepted
        settings = AlertSettings.from_config([rx.url + "/hook"], {"DBT_CIO_NOTIFY_SECRET": "k3y"})
        assert await deliver(_alert(), settings, sleep=sleep) == []
        assert len(rx.received) == 3 and pauses == [0.5, 1.0]
        last = rx.received[-1]
        assert last.path == "/hook" and last.headers[SIGNATURE_HEADER.lower()] == signature(last.body, "k3y")

        rx.answers = [404]  # a final answer: not retried
        undelivered = await deliver(_alert(), settings, sleep=sleep)
        assert [u.reason for u in undelivered] == ["answered 404"] and len(rx.received) == 4

        slack = AlertSettings.from_config(
            [f"slack+{rx.url}/services/s3cr3tTOKEN"], {"DBT_CIO_NOTIFY_SECRET": "k"}
        )
        assert await deliver(_alert(), slack, sleep=sleep) == []
        assert "text" in rx.received[-1].json and SIGNATURE_HEADER.lower() not in rx.received[-1].headers

    pauses.clear()
    nowhere = AlertSettings.from_config([closed_port_url()], {})
    [failed] = await deliver(_alert(), nowhere, DeliverySettings(attempts=3), sleep=sleep)
    assert failed.target.startswith("http://127.0.0.1:") and failed.target.endswith("/***")
    assert "connection failed" in failed.reason and "3 attempt" in failed.reason and len(pauses) == 2
