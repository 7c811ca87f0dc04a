"""A TCP proxy that tests can cut, hang and restore, to show what happens while a service fails.

Clients connect to the proxy's port; ``cut()`` drops every open connection and refuses new ones (a
service that is down), ``hang()`` keeps every connection open and accepts new ones but passes nothing
on either way (a service that is up and never answers: a stuck broker, a full disk, a network that
drops packets), ``restore()`` serves again. The real service behind it keeps running for everyone else.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        # Connections accepted since the proxy started, hung or not: a test tells from it whether a
        # client even tried to reach the service.
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._hung = threading.Event()
        # Bumped when the connections held through a hang are dropped: their pipes end.
        self._epoch = 0
        self._open()

    def _open(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stopped.clear()
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                if self._hung.is_set():  # accepted, and never answered: held until restore()
                    self._connections.add(client)
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, left: socket.socket, right: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(left, selectors.EVENT_READ, right)
        selector.register(right, selectors.EVENT_READ, left)
        epoch = self._epoch
        try:
            while not self._stopped.is_set() and self._epoch == epoch:
                if self._hung.is_set():
                    # Nothing is read, so what either side sends stays unanswered in the buffers.
                    self._stopped.wait(0.05)
                    continue
                for key, _ in selector.select(timeout=0.5):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for sock in (left, right):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._connections.discard(left)
                self._connections.discard(right)

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _drop_connections(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def cut(self) -> None:
        """Refuse new connections and drop open ones, as if the service went away."""
        self._stopped.set()
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept() (close() alone leaves it there for good).
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        self._drop_connections()

    def hang(self) -> None:
        """Accept connections and keep open ones, but pass nothing on: the service never answers."""
        self._hung.set()

    def restore(self) -> None:
        """Serve again on the same port: after a hang, the connections held meanwhile are dropped (a
        service that comes back from hanging is a restarted one, and what was sent into it is lost)."""
        if self._hung.is_set():
            with self._lock:
                self._epoch += 1
            self._drop_connections()
            self._hung.clear()
        if self._listener is None:
            self._open()

    def close(self) -> None:
        self._hung.clear()
        self.cut()
