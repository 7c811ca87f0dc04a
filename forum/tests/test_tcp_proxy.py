"""The tests' TCP proxy (forum.testing.tcp_proxy) in front of the real Redis: a cut refuses, as a
service that is down, and leaves no thread behind; a restore serves again on the same port."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from forum.testing.tcp_proxy import TcpProxy


def _ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
        client.sendall(b"PING\r\n")
        return client.recv(64)


def _accepting() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if "_accept_loop" in thread.name]


def test_a_cut_refuses_connections_and_a_restore_serves_again() -> None:
    target = urlsplit(settings.REDIS_URL)
    before = set(_accepting())
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    started = set(_accepting()) - before
    assert started  # the proxy's own accept thread, looked for again below
    try:
        assert _ping(proxy.port) == b"+PONG\r\n"
        proxy.cut()
        with pytest.raises(ConnectionRefusedError):
            _ping(proxy.port)
        proxy.restore()
        assert _ping(proxy.port) == b"+PONG\r\n"
    finally:
        proxy.close()
    # No thread stays blocked in accept() on a listener that is gone.
    for thread in started:
        thread.join(timeout=5)
        assert not thread.is_alive()
