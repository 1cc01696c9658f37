"""Credentials from the environment: workspaces, regions, base URLs, and secrets kept out of sight."""

from __future__ import annotations

import pytest

from dbt_cio.customerio.credentials import Credentials, check_base_url, env_prefix
from dbt_cio.errors import UsageError

SECRET = "sk-very-secret-value"
APP_SECRET = "app-very-secret-value"


def test_default_workspace_reads_unprefixed_variables() -> None:
    creds = Credentials.from_env(
        environ={
            "CUSTOMERIO_SITE_ID": "site",
            "CUSTOMERIO_API_KEY": SECRET,
            "CUSTOMERIO_APP_API_KEY": APP_SECRET,
            "CUSTOMERIO_REGION": "EU",
        }
    )
    assert (creds.site_id, creds.api_key, creds.app_api_key, creds.region) == (
        "site",
        SECRET,
        APP_SECRET,
        "eu",
    )
    assert creds.track_base("eu") == "https://track-eu.customer.io"
    assert creds.app_base("eu") == "https://api-eu.customer.io"
    assert creds.track_base("us") == "https://track.customer.io"


def test_region_defaults_to_auto_and_app_key_is_optional() -> None:
    creds = Credentials.from_env(environ={"CUSTOMERIO_SITE_ID": "s", "CUSTOMERIO_API_KEY": "k"})
    assert creds.region == "auto"
    assert creds.app_api_key is None


def test_named_workspace_reads_its_own_keys_and_shares_urls() -> None:
    env = {
        "CUSTOMERIO_SITE_ID": "default-site",
        "CUSTOMERIO_API_KEY": "default-key",
        "CUSTOMERIO_ACME_EU_SITE_ID": "acme",
        "CUSTOMERIO_ACME_EU_API_KEY": SECRET,
        "CUSTOMERIO_TRACK_URL": "http://127.0.0.1:9999/",
    }
    creds = Credentials.from_env("acme-eu", environ=env)
    assert (creds.site_id, creds.api_key, creds.workspace) == ("acme", SECRET, "acme-eu")
    assert creds.track_url == "http://127.0.0.1:9999"
    assert creds.app_base("us") == "http://127.0.0.1:9999"  # the emulator serves both APIs


def test_named_workspace_never_borrows_the_default_keys() -> None:
    env = {"CUSTOMERIO_SITE_ID": "default-site", "CUSTOMERIO_API_KEY": SECRET}
    with pytest.raises(UsageError) as info:
        Credentials.from_env("acme", environ=env)
    assert "CUSTOMERIO_ACME_SITE_ID" in str(info.value) and "CUSTOMERIO_ACME_API_KEY" in str(info.value)


def test_missing_variables_are_all_named_but_no_value_is_shown() -> None:
    with pytest.raises(UsageError) as info:
        Credentials.from_env(environ={"CUSTOMERIO_SITE_ID": "site-x"})
    assert "CUSTOMERIO_API_KEY" in str(info.value)
    assert "site-x" not in str(info.value)


@pytest.mark.parametrize("workspace", ["acme corp", "a/b", ""])
def test_unusable_workspace_names_are_refused(workspace: str) -> None:
    with pytest.raises(UsageError):
        env_prefix(workspace)


def test_bad_region_is_refused() -> None:
    with pytest.raises(UsageError, match="REGION"):
        Credentials.from_env(
            environ={"CUSTOMERIO_SITE_ID": "s", "CUSTOMERIO_API_KEY": "k", "CUSTOMERIO_REGION": "ap"}
        )


def test_repr_and_str_mask_every_secret() -> None:
    creds = Credentials(site_id="site", api_key=SECRET, app_api_key=APP_SECRET)
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert SECRET not in text and APP_SECRET not in text
        assert "***" in text and "site" in text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:80",
        "http://127.5.5.5",
        "https://proxy.example.com",
    ],
)
def test_http_only_for_loopback(url: str) -> None:
    assert check_base_url(url + "/", "X") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://proxy.example.com",
        "http://10.0.0.1:80",
        "ftp://127.0.0.1",
        "https://user:pw@host.example",
        "track.customer.io",
        "https://host.example/?a=1",
    ],
)
def test_unsafe_or_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(UsageError):
        check_base_url(url, "CUSTOMERIO_TRACK_URL")


def test_plain_http_url_from_environment_is_refused_with_the_variable_named() -> None:
    env = {
        "CUSTOMERIO_SITE_ID": "s",
        "CUSTOMERIO_API_KEY": "k",
        "CUSTOMERIO_APP_URL": "http://api.example.com",
    }
    with pytest.raises(UsageError, match="CUSTOMERIO_APP_URL"):
        Credentials.from_env(environ=env)


def test_credentials_are_frozen() -> None:
    creds = Credentials(site_id="s", api_key="k")
    with pytest.raises(AttributeError):
        creds.api_key = "other"  # type: ignore[misc]
