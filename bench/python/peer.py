#!/usr/bin/python3
"""Python reference peer of the socketkit bench (Debian python3-msgpack only).

Reproduces the wire behaviour of the Python module socketkit is compatible
with: 4-byte big-endian length, then msgpack.packb() of the map event_name,
timestamp_ms, timestamp_iso (datetime.isoformat()), message_type, data;
frames decoded one by one with msgpack.unpackb() (strict map keys). Like the
raw Node baseline it has no handshake and validates nothing: it shows what a
plain Python program on the same wire does on this machine.

Driven by the bench worker over stdin/stdout, one JSON object per line:
{"id": n, "cmd": ..., "args": {...}} -> {"id": n, "ok": true, "result": ...}.
Times are time.monotonic_ns() (CLOCK_MONOTONIC, the clock of Node's hrtime).
"""
import json
import os
import socket
import struct
import sys
import threading
import time
from datetime import datetime, timezone

import msgpack

BATCH = 64 * 1024
LEN = struct.Struct(">I")


def make_data(spec):
    n = spec["n"]
    return {"payload": b"a" * n if spec["kind"] == "bin" else "x" * n}


def frame(event_name, data, msg_id=None, reply_to=None):
    now = datetime.now(timezone.utc)
    msg = {
        "event_name": event_name,
        "timestamp_ms": int(now.timestamp() * 1000),
        "timestamp_iso": now.isoformat(),
        "message_type": "data",
        "data": data,
    }
    if msg_id is not None:
        msg["id"] = msg_id
    if reply_to is not None:
        msg["reply_to"] = reply_to
    body = msgpack.packb(msg)
    return LEN.pack(len(body)) + body


def read_frames(sock, on_payload):
    """Reads length-prefixed frames until EOF, calling on_payload(bytes) for each."""
    buf = bytearray()
    while True:
        try:
            chunk = sock.recv(256 * 1024)
        except OSError:
            return
        if not chunk:
            return
        buf += chunk
        pos = 0
        n = len(buf)
        while n - pos >= 4:
            size = LEN.unpack_from(buf, pos)[0]
            if n - pos - 4 < size:
                break
            on_payload(bytes(buf[pos + 4 : pos + 4 + size]))
            pos += 4 + size
        if pos:
            del buf[:pos]


class Server:
    def __init__(self, event_name):
        self.event_name = event_name
        self.clients = []
        self.lock = threading.Lock()
        self.listener = None

    def start(self, transport, socket_dir):
        if transport == "unix":
            path = os.path.join(socket_dir, self.event_name + ".sock")
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            address = {"transport": "unix", "path": path, "socketDir": socket_dir, "eventName": self.event_name}
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            address = {"transport": "tcp", "host": "127.0.0.1", "port": s.getsockname()[1], "eventName": self.event_name}
        s.listen(1024)
        self.listener = s
        threading.Thread(target=self._accept, daemon=True).start()
        return address

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if conn.family == socket.AF_INET:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            wlock = threading.Lock()
            with self.lock:
                self.clients.append((conn, wlock))
            threading.Thread(target=self._serve, args=(conn, wlock), daemon=True).start()

    def _serve(self, conn, wlock):
        def on_payload(payload):
            msg = msgpack.unpackb(payload)
            if msg.get("id") is not None:
                reply = frame(self.event_name, {"ok": True}, reply_to=msg["id"])
                with wlock:
                    conn.sendall(reply)

        read_frames(conn, on_payload)

    def client_count(self):
        with self.lock:
            return len(self.clients)

    def broadcast(self, count, spec):
        data = make_data(spec)
        with self.lock:
            clients = list(self.clients)
        out = bytearray()
        frame_bytes = 0
        t0 = time.monotonic_ns()

        def flush():
            chunk = bytes(out)
            for conn, wlock in clients:
                with wlock:
                    conn.sendall(chunk)
            out.clear()

        for _ in range(count):
            f = frame(self.event_name, data)
            frame_bytes = len(f)
            if len(out) + len(f) > BATCH and out:
                flush()
            out += f
        if out:
            flush()
        return {"t0": t0, "t1": time.monotonic_ns(), "frameBytes": frame_bytes}

    def stop(self):
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            for conn, _ in self.clients:
                try:
                    conn.close()
                except OSError:
                    pass


class Client:
    def __init__(self, address):
        self.event_name = address["eventName"]
        if address["transport"] == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(address["path"])
        else:
            s = socket.create_connection((address["host"], address["port"]))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self.count = 0
        self.target = None
        self.t_first = 0
        self.t_last = 0
        self.done = threading.Event()
        self.reply = threading.Event()
        self.reply_to = None
        threading.Thread(target=read_frames, args=(s, self._on_payload), daemon=True).start()

    def _on_payload(self, payload):
        msg = msgpack.unpackb(payload)
        if msg.get("reply_to") is not None:
            self.reply_to = msg["reply_to"]
            self.reply.set()
            return
        self.count += 1
        if self.count == 1:
            self.t_first = time.monotonic_ns()
        if self.count == self.target:
            self.t_last = time.monotonic_ns()
            self.done.set()

    def arm(self, count):
        self.count = 0
        self.target = count
        self.done.clear()

    def wait_count(self):
        if not self.done.wait(120):
            raise TimeoutError(f"only {self.count} of {self.target} messages arrived")
        return {"tFirst": self.t_first, "tLast": self.t_last, "count": self.count}

    def _request(self, data, seq):
        msg_id = f"r{seq}"
        self.reply.clear()
        self.sock.sendall(frame(self.event_name, data, msg_id=msg_id))
        if not self.reply.wait(10):
            raise TimeoutError("no reply within 10 s")
        if self.reply_to != msg_id:
            raise RuntimeError("reply to another request")

    def requests(self, count, warmup, spec):
        data = make_data(spec)
        seq = 0
        for _ in range(warmup):
            seq += 1
            self._request(data, seq)
        samples = []
        for _ in range(count):
            seq += 1
            t = time.monotonic_ns()
            self._request(data, seq)
            samples.append((time.monotonic_ns() - t) / 1000)
        return samples

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def main():
    server = None
    client = None
    for line in sys.stdin:
        req = json.loads(line)
        a = req.get("args", {})
        try:
            cmd = req["cmd"]
            if cmd == "info":
                result = {"python": sys.version.split()[0], "msgpack": ".".join(map(str, msgpack.version))}
            elif cmd == "start":
                server = Server(a["eventName"])
                result = server.start(a["transport"], a["socketDir"])
            elif cmd == "clientCount":
                result = server.client_count()
            elif cmd == "broadcast":
                result = server.broadcast(a["count"], a["data"])
            elif cmd == "connect":
                client = Client(a["address"])
                result = True
            elif cmd == "arm":
                client.arm(a["count"])
                result = True
            elif cmd == "waitCount":
                result = client.wait_count()
            elif cmd == "requests":
                result = client.requests(a["count"], a["warmup"], a["data"])
            elif cmd == "stop":
                if server is not None:
                    server.stop()
                if client is not None:
                    client.close()
                result = True
            else:
                raise ValueError(f"unknown command {cmd}")
            out = {"id": req["id"], "ok": True, "result": result}
        except Exception as err:  # reported to the bench, which records it
            out = {"id": req["id"], "ok": False, "error": f"{type(err).__name__}: {err}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
