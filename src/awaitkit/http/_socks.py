"""The SOCKS5 handshake (RFC 1928, RFC 1929 credentials) as a state machine: bytes in, bytes out.

No I/O: the client writes :meth:`Socks5Handshake.greeting`, feeds every read
to :meth:`Socks5Handshake.feed` and writes what it returns, until
:attr:`Socks5Handshake.done`; then the connection is a tunnel to the target.
A refusal or a reply that is not SOCKS5 raises
:class:`~awaitkit.http.ProxyError` naming it.

::

    shake = Socks5Handshake("example.org", 443)
    out = shake.greeting()          # b"\\x05\\x01\\x00": version 5, "no auth"
    out = shake.feed(b"\\x05\\x00")  # the CONNECT request
    shake.feed(b"\\x05\\x00\\x00\\x01" + bytes(6))
    assert shake.done

The target is sent as an IP address (ATYP 1 or 4) when it is one, as a name
(ATYP 3, for the proxy to resolve: ``socks5h://``) otherwise.
"""

from __future__ import annotations

import ipaddress
import struct

from awaitkit.http._errors import ProxyError

__all__ = ["REPLIES", "Socks5Handshake"]

_VERSION = 5
_NO_AUTH = 0
_PASSWORD = 2
_NO_METHOD = 0xFF
_CONNECT = 1
_IPV4, _NAME, _IPV6 = 1, 3, 4
REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}
"""RFC 1928's reply codes other than 0 (succeeded), in its words."""

_GREETING, _AUTH, _REPLY, _DONE = range(4)


class Socks5Handshake:
    """One SOCKS5 CONNECT to ``host:port``, with ``credentials`` (user, password) if given.

    ``host`` is an IP address (sent as such) or an IDNA-encoded name (sent
    for the proxy to resolve, at most 255 bytes).  ``proxy`` names the
    proxy in errors.  Raises :class:`ValueError` for a name too long or
    credentials over 255 bytes or empty (the caller's checks should have
    caught them).
    """

    def __init__(
        self,
        host: str,
        port: int,
        credentials: tuple[bytes, bytes] | None = None,
        proxy: str = "SOCKS5 proxy",
    ) -> None:
        self.target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.proxy = proxy
        self.bound: tuple[str, int] | None = None
        """The proxy's BND.ADDR and BND.PORT, once :attr:`done`."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            name = host.encode("ascii")
            if not 0 < len(name) <= 255:
                raise ValueError(f"host name of {len(name)} bytes") from None
            where = bytes((_NAME, len(name))) + name
        else:
            kind = _IPV4 if address.version == 4 else _IPV6
            where = bytes((kind,)) + address.packed
        self._request = bytes((_VERSION, _CONNECT, 0)) + where + struct.pack("!H", port)
        if credentials is not None:
            user, password = credentials
            if not 0 < len(user) <= 255 or len(password) > 255:
                raise ValueError("SOCKS5 user name or password of a bad length")
        self._credentials = credentials
        self._state = _GREETING
        self._buffer = b""

    @property
    def done(self) -> bool:
        """True once the proxy said the tunnel is open."""
        return self._state == _DONE

    def greeting(self) -> bytes:
        """The first bytes to send: the methods we offer (password only with credentials)."""
        if self._credentials is None:
            return bytes((_VERSION, 1, _NO_AUTH))
        return bytes((_VERSION, 2, _NO_AUTH, _PASSWORD))

    def feed(self, data: bytes) -> bytes:
        """Take bytes read from the proxy; return the bytes to send next (maybe none).

        Raises :class:`ProxyError` for a refusal or a malformed reply, and
        for any byte after the final reply (the target speaks only once
        asked: nothing may follow).
        """
        if self._state == _DONE:
            if data:
                raise self._error("sent data after its reply")
            return b""
        self._buffer += data
        out = b""
        while self._state != _DONE:
            step = self._step()
            if step is None:
                return out
            out += step
        if self._buffer:
            raise self._error("sent data after its reply")
        return out

    def _error(self, what: str, reply: int | None = None) -> ProxyError:
        return ProxyError(f"{self.proxy} {what}", reply=reply)

    def _take(self, count: int) -> bytes | None:
        if len(self._buffer) < count:
            return None
        taken, self._buffer = self._buffer[:count], self._buffer[count:]
        return taken

    def _step(self) -> bytes | None:
        """One message off the buffer: the bytes to send after it, None to wait for more."""
        buffer = self._buffer
        if self._state == _GREETING:
            if buffer[:1] and buffer[0] != _VERSION:
                raise self._version(buffer[0])
            chosen = self._take(2)
            if chosen is None:
                return None
            method = chosen[1]
            if method == _NO_AUTH:
                self._state = _REPLY
                return self._request
            if method == _PASSWORD and self._credentials is not None:
                self._state = _AUTH
                user, password = self._credentials
                return bytes((1, len(user))) + user + bytes((len(password),)) + password
            if method == _NO_METHOD:
                wanted = "" if self._credentials else " (does it want credentials?)"
                raise self._error(f"accepts none of our authentication methods{wanted}")
            raise self._error(
                f"chose an authentication method we did not offer: {method}"
            )
        if self._state == _AUTH:
            status = self._take(2)
            if status is None:
                return None
            if status[0] not in (1, _VERSION):  # RFC 1929 says 1; some send 5
                raise self._error(
                    f"answered the credentials with version {status[0]}, not 1"
                )
            if status[1] != 0:
                raise self._error(
                    f"refused the user name and password (status {status[1]})"
                )
            self._state = _REPLY
            return self._request
        # _REPLY: VER REP RSV ATYP BND.ADDR BND.PORT
        if buffer[:1] and buffer[0] != _VERSION:
            raise self._version(buffer[0])
        if len(buffer) >= 2 and buffer[1] != 0:
            code = buffer[1]
            reason = REPLIES.get(code, "unknown reply code")
            raise self._error(
                f"could not connect to {self.target}: {reason} (reply {code})", code
            )
        if len(buffer) < 4:
            return None
        kind = buffer[3]
        if kind == _NAME and len(buffer) < 5:
            return None
        if kind == _IPV4:
            size = 4 + 4 + 2
        elif kind == _IPV6:
            size = 4 + 16 + 2
        elif kind == _NAME:
            size = 4 + 1 + buffer[4] + 2
        else:
            raise self._error(f"replied with an unknown address type {kind}")
        reply = self._take(size)
        if reply is None:
            return None
        raw = reply[4:-2]
        if kind == _NAME:
            bound = raw[1:].decode("latin-1")
        else:
            bound = str(ipaddress.ip_address(raw))
        self.bound = (bound, struct.unpack("!H", reply[-2:])[0])
        self._state = _DONE
        return b""

    def _version(self, byte: int) -> ProxyError:
        return self._error(f"is not a SOCKS5 proxy: it replied with version {byte}")
