"""A scripted stand-in for a broker (TCP, loopback) to test what a real one never does: junk frames, silence,
a server that cannot prove the token."""

import socket
import threading

from socketkit_broker import wire


class Conn:

    def __init__(self, sock, event):
        self.sock = sock
        self.event = event
        self.reader = wire.FrameReader(1 << 20)
        self.seen = []

    def read(self, timeout=5.0):
        self.sock.settimeout(timeout)
        while True:
            payload = self.reader.next_payload()
            if payload:
                msg = wire.decode_payload(payload)
                self.seen.append(msg)
                return msg
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError('client closed')
            self.reader.feed(chunk)

    def send(self, mtype, data):
        self.sock.sendall(wire.encode_frame(self.event, mtype, data, 1 << 20))

    def raw(self, data: bytes):
        self.sock.sendall(data)

    def welcome(self):
        self.send('control', {'op': 'welcome', 'protocol': 3, 'event': self.event, 'client_id': 'fake',
                              'allow_client_send': True, 'max_message_size': 1 << 20})


class FakeBroker:
    """Calls ``script(conn)`` for every connection, on a thread of its own; ``conns`` lists them."""

    def __init__(self, script, event='broker'):
        self.script = script
        self.event = event
        self.lsock = socket.socket()
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.errors = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f'tcp://127.0.0.1:{self.port}?event={self.event}'

    def _accept(self):
        while True:
            try:
                sock, _ = self.lsock.accept()
            except OSError:
                return
            conn = Conn(sock, self.event)
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, ), daemon=True).start()

    def _serve(self, conn):
        try:
            self.script(conn)
        except (EOFError, OSError):
            pass
        except Exception as exc:  # pylint: disable=broad-except
            self.errors.append(exc)
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass

    def close(self):
        self.lsock.close()
