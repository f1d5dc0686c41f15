"""Outgoing HTTP that cannot be turned inwards (spec/quality.md S6).

Every address is checked after DNS resolution, the connection is made to that checked address (the
Host header and TLS name stay the URL's), and each redirect target is checked the same way, so DNS
rebinding or a redirect cannot reach a refused address. Standard library only.
"""
import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_READ_LIMIT = 65536


class Refused(Exception):
    """The URL or the address it leads to may not be reached."""


class TextRefused(Refused):
    """Refused by the URL's text alone: it can never succeed."""


@dataclass(frozen=True)
class Response:
    status: int
    url: str


def address_refusal(address, *, allow_private):
    """Why `address` (an IP string) may not be reached, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if allow_private:
        return None
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return f"{ip} is not a unicast address"
    if ip.is_private or not ip.is_global:
        return f"{ip} is a private address"
    return None


def check_url_text(url, *, allow_private):
    """Return (scheme, host, port) of `url`, or raise TextRefused if its text alone is refused."""
    if not isinstance(url, str):
        raise TextRefused("the URL must be a string")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TextRefused(f"the URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TextRefused("the URL must be http or https")
    host = parts.hostname
    if not host:
        raise TextRefused("the URL has no host")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = address_refusal(str(literal), allow_private=allow_private)
        if reason:
            raise TextRefused(reason)
    return scheme, host, port or (443 if scheme == "https" else 80)


def resolve(host, port, *, allow_private):
    """The addresses of `host` that may be reached, in resolver order; Refused if there are none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    allowed, reasons = [], []
    for info in infos:
        address = info[4][0]
        reason = address_refusal(address, allow_private=allow_private)
        if reason:
            reasons.append(reason)
        elif address not in allowed:
            allowed.append(address)
    if not allowed:
        raise Refused(f"refused: {host} resolves to {'; '.join(reasons) or 'nothing'}")
    return allowed


class _PinnedMixin:
    """Connect to one checked address, and check the peer again once connected."""

    def _pinned_socket(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        try:
            peer = sock.getpeername()[0]
            reason = address_refusal(peer, allow_private=self._allow_private)
            if reason:
                raise Refused(f"refused: connected to {reason}")
        except BaseException:
            sock.close()
            raise
        return sock


class _PinnedHTTPConnection(_PinnedMixin, http.client.HTTPConnection):
    def __init__(self, host, port, *, address, allow_private, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address, self._allow_private = address, allow_private

    def connect(self):
        self.sock = self._pinned_socket()


class _PinnedHTTPSConnection(_PinnedMixin, http.client.HTTPSConnection):
    def __init__(self, host, port, *, address, allow_private, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address, self._allow_private = address, allow_private

    def connect(self):
        self.sock = self._context.wrap_socket(self._pinned_socket(), server_hostname=self.host)


def _post_once(url, body, headers, *, timeout, allow_private):
    scheme, host, port = check_url_text(url, allow_private=allow_private)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    last_error = None
    for address in resolve(host, port, allow_private=allow_private):
        conn = kind(host, port, address=address, allow_private=allow_private, timeout=timeout)
        try:
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            response.read(_READ_LIMIT)
            return response.status, response.getheader("Location")
        except ConnectionRefusedError as exc:
            last_error = exc
        finally:
            conn.close()
    raise last_error


def post(url, body, headers, *, timeout, allow_private):
    """POST `body` to `url`, following at most MAX_REDIRECTS checked redirects; return the last Response.

    Raises TextRefused (the URL itself), Refused (an address or a redirect target) or OSError /
    http.client.HTTPException (the network or the receiver)."""
    for _ in range(MAX_REDIRECTS + 1):
        status, location = _post_once(url, body, headers, timeout=timeout, allow_private=allow_private)
        if status not in REDIRECT_STATUSES or not location:
            return Response(status=status, url=url)
        following = urljoin(url, location)
        try:
            check_url_text(following, allow_private=allow_private)
        except TextRefused as exc:
            raise Refused(f"redirect to {following} refused: {exc}") from None
        url = following
    raise Refused(f"more than {MAX_REDIRECTS} redirects")
