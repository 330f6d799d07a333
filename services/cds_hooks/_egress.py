"""Which ``fhirServer`` URLs the service may send a request (and the hook's token) to.

A hook names the FHIR server we fetch missing prefetch data from, so a caller could point it at an
internal address (server-side request forgery). ``Settings.cds_allowed_fhir_servers`` is the real fence;
this guard holds even when that list is empty (the default): it refuses what is never an EHR, namely
non-http(s) schemes, URLs with credentials, link-local addresses (where cloud metadata services live),
the cloud metadata host names and the unspecified address. Loopback and private ranges stay allowed:
hospital FHIR servers live there, and so do the development and test stubs.

Only literal addresses are checked (including the legacy numeric forms ``inet_aton`` accepts, such as
``http://2852039166/``, which the HTTP client's resolver would turn into 169.254.169.254). Host names
are never resolved here: a DNS lookup in the request path would cost latency and could be steered.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Final
from urllib.parse import urlsplit

import httpx

# Host names of cloud instance-metadata services (GCP, AWS, Azure, Alibaba, Tencent, Oracle, OpenStack).
METADATA_HOSTS: Final = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)
# Metadata addresses outside the link-local ranges: Alibaba (CGNAT range) and AWS's IPv6 endpoint.
METADATA_ADDRESSES: Final = frozenset({ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")})
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_HOST: Final = re.compile(r"^[0-9a-fA-FxX.]+$")


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a literal host denotes, in any form the resolver accepts; None for a host name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host) and any(c.isdigit() for c in host):
        try:  # decimal, octal, hex and short dotted forms: no lookup, inet_aton only parses
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _refused_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped or addr.sixtofour
        if mapped is None and addr in _NAT64:  # 64:ff9b::a9fe:a9fe reaches 169.254.169.254 through NAT64
            mapped = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if mapped is not None:
            return _refused_address(mapped)
    if addr.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if addr in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if addr.is_unspecified or addr.is_multicast:
        return "not a server address"
    return None


def fhir_server_refusal(url: str) -> str | None:
    """Why the service must not send requests to ``url`` (a hook's ``fhirServer``), or None if it may."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return "fhirServer is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "fhirServer must be an http(s) URL"
    if not host:
        return "fhirServer has no host"
    if parts.username is not None or parts.password is not None:
        return "fhirServer must not carry credentials"
    name = host.lower().rstrip(".")
    if name in METADATA_HOSTS:
        return "fhirServer is a cloud metadata service"
    addr = _literal_address(name)
    if addr is not None and (why := _refused_address(addr)) is not None:
        return f"fhirServer is {why}"
    try:  # last, so a refused address keeps its own reason above
        # The HTTP client must be able to build requests on it too: it rejects some hosts urlsplit
        # accepts (e.g. octal "0177.0.0.1"), which would otherwise surface as a 500 mid-call.
        httpx.URL(url.strip())
    except (ValueError, httpx.InvalidURL):
        return "fhirServer is not a valid URL (the HTTP client cannot parse it)"
    return None
