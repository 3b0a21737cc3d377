"""The outbound rule (hub.core.outbound): which vendor and webhook URLs the hub may send to."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core.outbound import host_matches, vendor_url_refusal, webhook_url_refusal
from hub.settings import DEFAULT_VENDOR_URL_ALLOWLIST, SettingsError, load_settings


def settings(**values: Any) -> Any:
    return load_settings(require_secret_key=False, **values)


PRODUCTION = settings()
SANDBOXES = settings(allow_loopback_vendors=True)


def test_the_default_allow_list_names_the_vendors_real_hosts() -> None:
    assert DEFAULT_VENDOR_URL_ALLOWLIST.split(",") == [
        "int.lightspeeddataservices.com",
        "api.lightspeedapp.com",
        "cloud.lightspeedapp.com",
    ]
    for url in (
        "https://int.lightspeeddataservices.com/lsapi",
        "https://api.lightspeedapp.com",
        "https://cloud.lightspeedapp.com/auth/oauth/token",
    ):
        assert vendor_url_refusal(url, PRODUCTION) is None


def test_the_host_of_hub_threepa_base_url_is_always_allowed() -> None:
    own = settings(threepa_base_url="https://dms-proxy.example.net/lsapi")
    assert vendor_url_refusal("https://dms-proxy.example.net/lsapi", own) is None
    assert vendor_url_refusal("https://dms-proxy.example.net/lsapi", PRODUCTION) is not None


@pytest.mark.parametrize(
    ("host", "pattern", "matches"),
    [
        ("api.lightspeedapp.com", "api.lightspeedapp.com", True),
        ("API.LightspeedApp.com.", "api.lightspeedapp.com", True),
        ("eu.api.lightspeedapp.com", "*.lightspeedapp.com", True),
        ("lightspeedapp.com", "*.lightspeedapp.com", False),
        ("evil-lightspeedapp.com", "*.lightspeedapp.com", False),
        ("lightspeedapp.com.evil.example", "*.lightspeedapp.com", False),
        ("api.lightspeedapp.com.evil.example", "api.lightspeedapp.com", False),
    ],
)
def test_allow_list_patterns_match_a_host_or_any_subdomain(
    host: str, pattern: str, matches: bool
) -> None:
    assert host_matches(host, pattern) is matches


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://api.lightspeedapp.com/", "must be an http:// or https:// URL"),
        ("http://api.lightspeedapp.com/", "must be an https:// URL"),
        ("https://", "must name a host"),
        ("https://user:pw@api.lightspeedapp.com/", "must not carry a user name or password"),
        ("https://attacker.example/", "not in HUB_VENDOR_URL_ALLOWLIST"),
        ("https://api.lightspeedapp.com.attacker.example/", "not in HUB_VENDOR_URL_ALLOWLIST"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("https://10.0.0.5/", "a private address"),
        ("https://[fd00::5]/", "a private address"),
        ("https://[::ffff:192.168.1.1]/", "a private address"),
        ("https://100.64.0.1/", "not a public address"),
        ("https://224.0.0.1/", "a multicast address"),
        ("https://0.0.0.0/", "the unspecified address"),
        ("http://127.0.0.1:8000/", "HUB_ALLOW_LOOPBACK_VENDORS=1"),
        ("http://localhost:8000/", "HUB_ALLOW_LOOPBACK_VENDORS=1"),
        ("http://[::1]:8000/", "HUB_ALLOW_LOOPBACK_VENDORS=1"),
    ],
)
def test_a_vendor_url_is_refused_with_a_sentence_saying_why(url: str, reason: str) -> None:
    refusal = vendor_url_refusal(url, PRODUCTION)
    assert refusal is not None and reason in refusal


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/lsapi",
        "http://localhost:9/",
        "https://[::1]:8443/",
        "http://127.5.6.7/",
    ],
)
def test_loopback_vendor_urls_are_allowed_with_the_setting(url: str) -> None:
    assert vendor_url_refusal(url, SANDBOXES) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "http://10.0.0.5/",
        "http://api.lightspeedapp.com/",  # http is for loopback sandboxes only
        "https://attacker.example/",
    ],
)
def test_allowing_loopback_vendors_allows_nothing_else(url: str) -> None:
    assert vendor_url_refusal(url, SANDBOXES) is not None


def test_an_allow_listed_name_is_refused_when_it_resolves_to_an_internal_address() -> None:
    # "127.1" and "2130706433" are names the resolver answers with 127.0.0.1.
    listed = settings(vendor_url_allowlist="127.1,2130706433")
    for url in ("https://127.1/", "https://2130706433/"):
        refusal = vendor_url_refusal(url, listed)
        assert refusal is not None and "resolves to 127.0.0.1, a loopback address" in refusal


def test_a_name_that_does_not_resolve_is_not_refused_by_the_rule() -> None:
    # Nothing can be sent there; the request itself fails as "vendor unreachable".
    listed = settings(vendor_url_allowlist="*.invalid")
    assert vendor_url_refusal("https://dms.no-such-host.invalid/", listed) is None


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:9/", "a loopback address"),
        ("http://localhost/hook", "a loopback address"),
        ("http://127.1:9/hook", "resolves to 127.0.0.1"),
        ("http://169.254.169.254/", "a link-local address"),
        ("http://192.168.0.10/hook", "a private address"),
        ("http://[::]/", "the unspecified address"),
        ("gopher://example.com/", "must be an http:// or https:// URL"),
    ],
)
def test_a_webhook_url_must_reach_a_public_address(url: str, kind: str) -> None:
    refusal = webhook_url_refusal(url, PRODUCTION)
    assert refusal is not None and kind in refusal


def test_a_webhook_may_go_to_any_public_host_over_http_or_https() -> None:
    for url in ("https://shop.example.com/hooks", "http://93.184.215.14/", "https://8.8.8.8/h"):
        assert webhook_url_refusal(url, PRODUCTION) is None


def test_private_webhook_targets_are_allowed_with_the_setting() -> None:
    lenient = settings(allow_private_webhooks=True)
    assert webhook_url_refusal("http://127.0.0.1:9/", lenient) is None
    assert webhook_url_refusal("http://10.0.0.5/", lenient) is None
    assert webhook_url_refusal("ftp://10.0.0.5/", lenient) is not None
    # It says nothing about vendor URLs.
    assert vendor_url_refusal("http://127.0.0.1:9/", lenient) is not None


@pytest.mark.parametrize("bad", ["https://api.lightspeedapp.com", "*", "api.lightspeedapp.com:443"])
def test_a_bad_allow_list_stops_start_up_naming_the_variable(bad: str) -> None:
    with pytest.raises(SettingsError, match="HUB_VENDOR_URL_ALLOWLIST"):
        settings(vendor_url_allowlist=bad)


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_VENDOR_URL_ALLOWLIST", "dms.example.org, *.lightspeedapp.com")
    monkeypatch.setenv("HUB_ALLOW_LOOPBACK_VENDORS", "1")
    monkeypatch.setenv("HUB_ALLOW_PRIVATE_WEBHOOKS", "true")
    loaded = settings()
    assert loaded.allow_loopback_vendors and loaded.allow_private_webhooks
    assert vendor_url_refusal("https://dms.example.org/", loaded) is None
    assert vendor_url_refusal("https://eu.lightspeedapp.com/", loaded) is None
    assert not (PRODUCTION.allow_loopback_vendors or PRODUCTION.allow_private_webhooks)
