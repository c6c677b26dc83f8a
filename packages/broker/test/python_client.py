# A broker client in Python with msgpack alone (PROTOCOL.md, "Broker protocol"): proves the wire is enough.
#   /usr/bin/python3 test/python_client.py SOCKET_PATH EVENT_NAME
# Connects, says hello, subscribes a task worker and an RPC handler, submits a task and works it, calls an
# unknown RPC recipient, and prints one JSON line with what it saw.
import json
import socket
import struct
import sys
import time
from datetime import datetime, timezone

import msgpack

path, event = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(path)
buf = b''


def send(message_type, data):
    now = datetime.now(timezone.utc)
    msg = {'event_name': event, 'timestamp_ms': int(now.timestamp() * 1000), 'timestamp_iso': now.isoformat(),
           'message_type': message_type, 'data': data}
    payload = msgpack.packb(msg)
    sock.sendall(struct.pack('>I', len(payload)) + payload)


def recv():
    global buf
    while True:
        if len(buf) >= 4:
            (n,) = struct.unpack('>I', buf[:4])
            if len(buf) >= 4 + n:
                payload, buf = buf[4:4 + n], buf[4 + n:]
                m = msgpack.unpackb(payload, raw=False)
                if m['message_type'] == 'control' and m['data'].get('op') == 'ping':
                    send('control', {'op': 'pong'})
                    continue
                return m
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError('broker closed the connection')
        buf += chunk


stash = []  # broker messages read while waiting for another kind (an outcome may come before a reply)


def broker_message(kind):
    for i, d in enumerate(stash):
        if d.get('kind') == kind:
            return stash.pop(i)
    deadline = time.time() + 10
    while time.time() < deadline:
        m = recv()
        if m['message_type'] != 'data':
            continue
        if m['data'].get('kind') == kind:
            return m['data']
        stash.append(m['data'])
    raise TimeoutError(kind)


seen = {}
send('control', {'op': 'hello', 'protocol': 1})
welcome = recv()
seen['welcome'] = welcome['data'].get('op')

send('data', {'kind': 'subscribe', 'ref': 1, 'type': 'task', 'identifier': 'py-worker', 'prefetch': 2})
seen['subscribe'] = broker_message('reply')
send('data', {'kind': 'task', 'ref': 2, 'taskId': 'py-task-1', 'body': {'n': 21}, 'noReply': False})
seen['accepted'] = broker_message('reply')
deliver = broker_message('deliver')
seen['deliver'] = {k: deliver[k] for k in ('taskId', 'attempt', 'identifier', 'body')}
send('data', {'kind': 'result', 'ref': 3, 'taskId': deliver['taskId'], 'attempt': deliver['attempt'], 'ok': True,
              'result': deliver['body']['n'] * 2})
seen['resultAck'] = broker_message('reply')
seen['outcome'] = broker_message('outcome')
send('data', {'kind': 'result', 'ref': 4, 'taskId': deliver['taskId'], 'attempt': deliver['attempt'], 'ok': True,
              'result': 0})
seen['stale'] = broker_message('reply')
send('data', {'kind': 'rpc', 'ref': 5, 'recipient': 'nobody', 'body': None})
seen['unroutable'] = broker_message('reply')
send('data', {'kind': 'rpc', 'ref': 6, 'recipient': 'js-echo', 'body': {'x': 1}})
seen['rpc'] = broker_message('reply')
print(json.dumps(seen))
sock.close()
