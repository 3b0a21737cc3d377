"""Where the hub may send requests: the one rule for vendor base URLs and webhook URLs.

A URL that a tenant (or an admin) can store decides where the hub sends that tenant's requests
and credentials, so it must never reach inside the network the hub runs in (cloud metadata at
169.254.169.254, a database on 10.0.0.5, an admin port on 127.0.0.1).

Vendor base URLs (config fields marked with :func:`~hub.core.records.vendor_url_field`):

- ``https://`` only, to a host matching ``HUB_VENDOR_URL_ALLOWLIST`` (exact host names or
  ``*.domain`` for any subdomain of ``domain``; the host of ``HUB_THREEPA_BASE_URL`` is
  always on the list);
- every address the host resolves to must be public;
- with ``HUB_ALLOW_LOOPBACK_VENDORS=1`` (the demo and the tests, whose vendors are local
  sandboxes) a loopback URL — ``localhost``, ``127.0.0.0/8``, ``[::1]`` — is allowed too,
  over ``http://`` as well, and needs no allow-list entry.

Webhook URLs: ``http://`` or ``https://`` to any host whose addresses are all public, unless
``HUB_ALLOW_PRIVATE_WEBHOOKS=1``.

"Public" is :attr:`ipaddress.IPv4Address.is_global` (and its IPv6 counterpart) and not
multicast: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
(169.254/16, fe80::/10), shared (100.64/10), unspecified and reserved addresses are refused,
also when written as an IPv4-mapped or 6to4 IPv6 address.

Both rules run when the URL is stored (422 naming the field) and again just before the
requests are made, because what a name resolves to can change after it was checked. A host
that does not resolve at all is not refused: nothing can be sent there, and the request
itself then fails as the vendor being unreachable. The check and the connection resolve the
name separately, so a name whose owner switches its answer within that moment is not
covered; redirects are never followed by the hub's clients, so a public receiver cannot
bounce a request inward.

URLs are parsed with :class:`httpx.URL`, the parser of the clients that send the requests,
so the host checked is the host connected to.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Protocol

import httpx

__all__ = ["OutboundSettings", "host_matches", "vendor_url_refusal", "webhook_url_refusal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundSettings(Protocol):
    """The settings the rule reads (:class:`hub.settings.Settings` provides them)."""

    @property
    def vendor_host_patterns(self) -> list[str]: ...

    allow_loopback_vendors: bool
    allow_private_webhooks: bool


def vendor_url_refusal(url: str, settings: OutboundSettings) -> str | None:
    """Why the hub must not send vendor requests to ``url``, as a sentence; None when it may."""
    parsed = _parse(url)
    if isinstance(parsed, str):
        return parsed
    host = _host(parsed)
    loopback_ok = settings.allow_loopback_vendors
    if _is_loopback_name(host):
        if not loopback_ok:
            return (
                f"{host} is a loopback address: vendor URLs on loopback are allowed only with "
                "HUB_ALLOW_LOOPBACK_VENDORS=1 (local sandboxes)"
            )
        return _resolved_refusal(host, parsed.port, allow_loopback=True)
    literal = _literal_address(host)
    if literal is not None:
        kind = _non_public_kind(literal)
        if kind is not None:
            return f"{host} is {kind}: the hub sends no vendor requests there"
    if parsed.scheme != "https":
        return "must be an https:// URL"
    if not any(host_matches(host, pattern) for pattern in settings.vendor_host_patterns):
        allowed = ", ".join(settings.vendor_host_patterns) or "none"
        return f"the host {host} is not in HUB_VENDOR_URL_ALLOWLIST (allowed: {allowed})"
    return _resolved_refusal(host, parsed.port, allow_loopback=loopback_ok)


def webhook_url_refusal(url: str, settings: OutboundSettings) -> str | None:
    """Why the hub must not deliver webhooks to ``url``, as a sentence; None when it may."""
    parsed = _parse(url)
    if isinstance(parsed, str):
        return parsed
    if settings.allow_private_webhooks:
        return None
    host = _host(parsed)
    if _is_loopback_name(host):
        return f"{host} is a loopback address: webhooks go to public addresses only"
    literal = _literal_address(host)
    if literal is not None:
        kind = _non_public_kind(literal)
        if kind is not None:
            return f"{host} is {kind}: webhooks go to public addresses only"
        return None
    return _resolved_refusal(host, parsed.port, allow_loopback=False)


def host_matches(host: str, pattern: str) -> bool:
    """Whether ``host`` matches an allow-list pattern: the same name (case and a trailing dot
    ignored), or any subdomain of ``domain`` for ``*.domain`` (not ``domain`` itself)."""
    host = host.lower().rstrip(".")
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


# -- internals ------------------------------------------------------------------------------


def _parse(url: str) -> httpx.URL | str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "is not a valid URL"
    if parsed.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parsed.raw_host:
        return "must name a host"
    if parsed.userinfo:
        return "must not carry a user name or password"
    return parsed


def _host(parsed: httpx.URL) -> str:
    """The host as connected to: ASCII (IDNA-encoded), lower case, no trailing dot."""
    return parsed.raw_host.decode("ascii", "replace").lower().rstrip(".")


def _is_loopback_name(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    literal = _literal_address(host)
    return literal is not None and _unwrap(literal).is_loopback


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, 6to4), else the address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def _non_public_kind(address: IPAddress) -> str | None:
    """What kind of non-public address this is ("a link-local address"), None when public."""
    address = _unwrap(address)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


def _resolve(host: str, port: int | None) -> list[IPAddress]:
    """Every address ``host`` resolves to now; empty when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return []
    found: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]
        try:
            address = ipaddress.ip_address(raw)
        except ValueError:
            continue
        if address not in found:
            found.append(address)
    return found


def _resolved_refusal(host: str, port: int | None, *, allow_loopback: bool) -> str | None:
    """Why one of the addresses ``host`` resolves to is refused (None: all are fine)."""
    for address in _resolve(host, port):
        if allow_loopback and _unwrap(address).is_loopback:
            continue
        kind = _non_public_kind(address)
        if kind is not None:
            return f"{host} resolves to {address}, {kind}: the hub sends no requests there"
        if allow_loopback and _is_loopback_name(host):
            return f"{host} resolves to {address}, not a loopback address"
    return None
