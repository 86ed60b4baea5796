"""A small TCP proxy between a station and PostgreSQL, for fault tests.

`cut_after_commits(n)`: the next n transactions that insert events are forwarded to the server,
committed there, and then the server's reply is thrown away and the station's connection is cut;
the station never hears that its batch was committed. `down`: new connections are refused and open
ones are cut (the network is gone).
"""

from __future__ import annotations

import select
import socket
import threading


class CuttingProxy:
    def __init__(self, target_port: int):
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._cuts_left = 0
        self.cuts_done = 0
        self._pattern = b"INSERT INTO events"
        self._before = False
        self.down = False
        self._stop = threading.Event()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._thread = threading.Thread(target=self._accept, daemon=True, name="cutting-proxy")
        self._thread.start()

    def cut_after_commits(self, count: int, pattern: bytes = b"INSERT INTO events") -> None:
        with self._lock:
            self._cuts_left, self._pattern, self._before = count, pattern, False

    def cut_before_commits(self, count: int, pattern: bytes) -> None:
        """The connection drops before COMMIT reaches the server: the transaction is rolled back."""
        with self._lock:
            self._cuts_left, self._pattern, self._before = count, pattern, True

    def set_down(self, down: bool) -> None:
        self.down = down
        if down:
            with self._lock:
                pairs, self._pairs = self._pairs, []
            for pair in pairs:
                _close(*pair)

    def close(self) -> None:
        self._stop.set()
        self.set_down(True)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _take_cut(self) -> bool:
        with self._lock:
            if self._cuts_left > 0:
                self._cuts_left -= 1
                self.cuts_done += 1
                return True
            return False

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        inserting = False
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, server], [], [], 0.5)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        inserting = inserting or self._pattern in data
                        if inserting and b"COMMIT" in data and self._take_cut():
                            if self._before:
                                return  # the server never sees the COMMIT and rolls back
                            server.sendall(data)
                            _read_reply(server)  # the server has committed and answered ...
                            return  # ... and the station never hears it
                        if b"COMMIT" in data:
                            inserting = False
                        server.sendall(data)
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            _close(client, server)


def _read_reply(server: socket.socket) -> None:
    """Wait for ReadyForQuery ('Z'), which follows the server's CommandComplete for COMMIT."""
    received = b""
    server.settimeout(10)
    while b"Z\x00\x00\x00\x05" not in received:
        chunk = server.recv(65536)
        if not chunk:
            return
        received += chunk


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
