#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/ (README.md here).

    /usr/bin/python3 tests/fuzz/make_corpus.py [--minimize build/fuzz]

rewrites every corpus/<target>/ directory; with --minimize (after `make fuzz` built the targets
there) only the seeds libFuzzer's -merge=1 keeps (those that add coverage) stay.

Seeds of wamp_codec and rawsocket come from the official WAMP test vectors in
tests/unit/vectors/wamp (CC-BY-SA 3.0, see corpus/NOTICE.md): the bytes of every json, msgpack and
cbor sample, and the `wmsg` arrays of the option samples serialized in the three formats. The other
seeds are small hand-made messages, packets and config files. Needs Debian's python3-msgpack and
python3-cbor2 (installed by third_party/fetch-deps.sh). Deterministic: the same files every run.
"""
import base64
import glob
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import cbor2
import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.path.join(ROOT, "tests", "unit", "vectors", "wamp")
OUT = os.path.join(HERE, "corpus")
SERIALIZERS = {"json": 0, "msgpack": 1, "cbor": 2}   # wamp_codec's first byte
RAWSOCKET_IDS = {"json": 1, "msgpack": 2, "cbor": 3}


class Corpus:
    def __init__(self, target):
        self.dir = os.path.join(OUT, target)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.seen = set()

    def add(self, name, data):
        if isinstance(data, str):
            data = data.encode()
        digest = hashlib.sha1(data).hexdigest()
        if digest in self.seen:
            return
        self.seen.add(digest)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        with open(os.path.join(self.dir, f"{safe}-{digest[:8]}"), "wb") as f:
            f.write(data)


def serialize(fmt, value):
    if fmt == "json":
        return json.dumps(value, separators=(",", ":")).encode()
    if fmt == "msgpack":
        return msgpack.packb(value, use_bin_type=True)
    return cbor2.dumps(value)


# ---- WAMP ---------------------------------------------------------------------------------------

def vector_messages():
    """(name, serializer, bytes) of every vector sample, in file order."""
    out = []
    for path in sorted(glob.glob(os.path.join(VECTORS, "singlemessage", "*", "*.json"))):
        base = os.path.splitext(os.path.basename(path))[0]
        with open(path) as f:
            doc = json.load(f)
        for i, sample in enumerate(doc.get("samples", [])):
            if "serializers" in sample:
                for fmt in SERIALIZERS:
                    for j, enc in enumerate(sample["serializers"].get(fmt, [])):
                        out.append((f"vec-{base}-{i}-{j}", fmt, bytes.fromhex(enc["bytes_hex"])))
            elif "wmsg" in sample:
                for fmt in SERIALIZERS:
                    out.append((f"vec-{base}-opt{i}", fmt, serialize(fmt, sample["wmsg"])))
    return out


def nul_b64(data):
    return "\u0000" + base64.b64encode(data).decode()


def nested(depth):
    v = []
    for _ in range(depth - 1):
        v = [v]
    return v


def handmade_wamp():
    """Messages the vectors lack: binary arguments, payload passthru, revocations, ids at the limits."""
    msgs = {
        "publish-binary-args": [16, 1, {}, "a.b", [b"\x00\x01\xff", {"k": b"bin"}], {"x": b""}],
        "event-binary": [36, 5, 6, {"publisher": 7}, [b"\xde\xad"], {"b": b"\x00"}],
        "publish-ppt": [16, 2, {"ppt_scheme": "x_custom", "ppt_serializer": "cbor"}, "a.b",
                        b"\x01\x02\x03"],
        "call-ppt-enc": [48, 3, {"enc_algo": "cryptobox", "enc_serializer": "json"}, "p", b"\x05"],
        "unsubscribed-revoked": [35, 0, {"subscription": 9, "reason": "fox.history.overrun"}],
        "unregistered-revoked": [67, 0, {"registration": 9, "reason": "wamp.close"}],
        "error-args": [8, 48, 7, {}, "wamp.error.runtime_error", [1, "two"], {"three": 3.5}],
        "error-kwargs-only": [8, 16, 7, {}, "e.x", [], {"k": None}],
        "ids-max": [17, 9007199254740992, 9007199254740992],
        "ids-float": [17, 4294967296.0, 1.0],
        "hello-roles": [1, "realm1", {"roles": {"publisher": {}, "subscriber": {}},
                                      "authmethods": ["ticket", "wampcra"], "authid": "joe"}],
        "welcome": [2, 123, {"roles": {"broker": {}}, "authid": "joe", "authrole": "user"}],
        "result-progress": [50, 4, {"progress": True}, [None, True, False, -1, 2.5]],
        "yield-kwargs": [70, 4, {}, [], {"a": [1, {"b": [2]}]}],
        "invocation": [68, 5, 6, {"caller": 7, "procedure": "p.q", "timeout": 100}, ["x"]],
        "subscribe-wildcard": [32, 8, {"match": "wildcard", "get_retained": True}, "a..c"],
        "register-invoke": [64, 9, {"match": "prefix", "invoke": "roundrobin"}, "com.x"],
        "publish-exclude": [16, 10, {"exclude": [1, 2], "eligible_authid": ["joe"],
                                     "acknowledge": True, "retain": True}, "t", [1]],
        "interrupt": [69, 11, {"mode": "killnowait", "reason": "x"}],
        "cancel": [49, 12, {"mode": "skip"}],
        "nested-99": [16, 13, {}, "t", nested(98)],
        "nested-100": [16, 13, {}, "t", nested(99)],
        "nested-101": [16, 13, {}, "t", nested(100)],
    }
    out = []
    for name, msg in msgs.items():
        for fmt in ("msgpack", "cbor"):
            out.append((f"hand-{name}", fmt, serialize(fmt, msg)))
        out.append((f"hand-{name}", "json", json.dumps(to_json_binary(msg),
                                                        separators=(",", ":")).encode()))
    # Forms only one serializer has.
    out += [
        ("hand-json-bad-base64", "json", b'[16,1,{},"t",["\\u0000not base64!"]]'),
        ("hand-json-dup-keys", "json", b'[16,1,{"acknowledge":true,"acknowledge":false},"t"]'),
        ("hand-json-big-number", "json", b'[16,1,{},"t",[1e400,-0.0,18446744073709551616]]'),
        ("hand-msgpack-ext", "msgpack", bytes([0x95, 0x10, 0x01, 0x80, 0xa1, 0x74, 0x91,
                                                 0xd4, 0x05, 0x07])),
        ("hand-msgpack-nan", "msgpack", bytes([0x95, 0x10, 0x01, 0x80, 0xa1, 0x74, 0x91, 0xcb])
         + struct.pack(">d", float("nan"))),
        ("hand-msgpack-str-payload", "msgpack", serialize(
            "msgpack", [16, 1, {}, "t", ["\u0000zz"]])),
        ("hand-cbor-tagged", "cbor", bytes([0xd9, 0xd9, 0xf7]) + cbor2.dumps([16, 1, {}, "t"])),
        ("hand-cbor-indefinite", "cbor", bytes([0x9f, 0x10, 0x01, 0xbf, 0xff, 0x61, 0x74,
                                                0x9f, 0x5f, 0x41, 0x01, 0xff, 0xff, 0xff])),
        ("hand-cbor-half-float", "cbor", bytes([0x85, 0x10, 0x01, 0xa0, 0x61, 0x74, 0x81,
                                                0xf9, 0x7e, 0x00])),
    ]
    return out


def to_json_binary(v):
    if isinstance(v, bytes):
        return nul_b64(v)
    if isinstance(v, list):
        return [to_json_binary(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json_binary(x) for k, x in v.items()}
    return v


def wamp_codec(messages):
    c = Corpus("wamp_codec")
    for name, fmt, data in messages:
        c.add(f"{name}-{fmt}", bytes([SERIALIZERS[fmt]]) + data)


def frame(kind, payload):
    return bytes([kind]) + struct.pack(">I", len(payload))[1:] + payload


def rawsocket(messages):
    c = Corpus("rawsocket")
    by_fmt = {fmt: [d for _, f, d in messages if f == fmt] for fmt in SERIALIZERS}
    for fmt, datas in by_fmt.items():
        sid = RAWSOCKET_IDS[fmt]
        # [limit][cut seed][handshake][frames]: 2^24 and 2^10 byte limits, whole and cut streams.
        for limit, exponent in ((24, 0xF), (10, 0x1), (9, 0x0)):
            hs = bytes([0x7F, exponent << 4 | sid, 0, 0])
            for seed in (0, 7):
                for k in range(0, min(len(datas), 36), 6):
                    stream = hs + b"".join(frame(0, d) for d in datas[k:k + 6])
                    stream += frame(1, b"ping") + frame(2, b"")
                    c.add(f"rs-vec-{fmt}-l{limit}-s{seed}-{k}", bytes([limit, seed]) + stream)
    c.add("rs-bad-magic", bytes([24, 0]) + b"GET / HTTP/1.1\r\n\r\n")
    c.add("rs-reserved", bytes([24, 0, 0x7F, 0x12, 0, 1]))
    c.add("rs-serializer-4", bytes([24, 0, 0x7F, 0x14, 0, 0]))
    c.add("rs-serializer-0", bytes([24, 0, 0x7F, 0xF0, 0, 0]))
    c.add("rs-frame-too-long", bytes([10, 3, 0x7F, 0x12, 0, 0]) + bytes([0, 0, 0x08, 0x00]))
    c.add("rs-frame-type-3", bytes([24, 3, 0x7F, 0x12, 0, 0]) + frame(3, b"x"))
    c.add("rs-frame-reserved", bytes([24, 3, 0x7F, 0x12, 0, 0]) + frame(8, b"x"))
    c.add("rs-many-small", bytes([24, 5, 0x7F, 0x11, 0, 0]) + frame(1, b"") * 40 +
          frame(0, b"[6,{},\"wamp.close.normal\"]"))


# ---- MQTT ---------------------------------------------------------------------------------------

def rl(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(text):
    data = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(data)) + data


def packet(first, body):
    return bytes([first]) + rl(len(body)) + body


def connect(level=4, client_id="fox-client", keep_alive=60, clean=True, will=None, user=None,
            password=None):
    name = "MQTT" if level == 4 else "MQIsdp"
    flags = 0x02 if clean else 0
    payload = s(client_id)
    if will:
        topic, message, qos, retain = will
        flags |= 0x04 | qos << 3 | (0x20 if retain else 0)
        payload += s(topic) + s(message)
    if user is not None:
        flags |= 0x80
        payload += s(user)
    if password is not None:
        flags |= 0x40
        payload += s(password)
    return packet(0x10, s(name) + bytes([level, flags]) + struct.pack(">H", keep_alive) + payload)


def publish(topic, payload, qos=0, pid=1, retain=False, dup=False):
    first = 0x30 | (0x08 if dup else 0) | qos << 1 | (1 if retain else 0)
    return packet(first, s(topic) + (struct.pack(">H", pid) if qos else b"") + payload)


def subscribe(pid, filters, first=0x82):
    return packet(first, struct.pack(">H", pid) + b"".join(s(f) + bytes([q]) for f, q in filters))


def unsubscribe(pid, filters, first=0xA2):
    return packet(first, struct.pack(">H", pid) + b"".join(s(f) for f in filters))


def ack(kind, pid):
    return packet(kind, struct.pack(">H", pid))


def mqtt_codec():
    c = Corpus("mqtt_codec")
    CLIENT, SERVER, L31, L311 = 0x00, 0x01, 0x02, 0x04
    client = [
        ("connect", connect()),
        ("connect-will-auth", connect(client_id="c1", will=("last/will", b"gone", 1, True),
                                      user="joe@realm1", password=b"secret", clean=False)),
        ("connect-empty-id", connect(client_id="", keep_alive=0)),
        ("publish-q0", publish("a/b", b"hello")),
        ("publish-q1-retain", publish("a/b/c", b'{"x":1}', qos=1, pid=7, retain=True)),
        ("publish-q2-dup", publish("sensors/1/temp", b"21.5", qos=2, pid=65535, dup=True)),
        ("puback", ack(0x40, 7)),
        ("pubrec", ack(0x50, 8)),
        ("pubrel", ack(0x62, 8)),
        ("pubcomp", ack(0x70, 8)),
        ("subscribe", subscribe(3, [("a/+/c", 1), ("#", 0), ("$SYS/#", 2), ("a//b", 0)])),
        ("unsubscribe", unsubscribe(4, ["a/+/c", "#"])),
        ("pingreq", packet(0xC0, b"")),
        ("disconnect", packet(0xE0, b"")),
    ]
    for name, p in client:
        c.add(f"mq-client-{name}", bytes([CLIENT, 0]) + p)
    session = b"".join(p for _, p in client)
    for seed in (0, 3, 200):
        c.add(f"mq-client-session-s{seed}", bytes([CLIENT, seed]) + session)
    # MQTT 3.1: MQIsdp CONNECT, password without user name, DUP on SUBSCRIBE/UNSUBSCRIBE/PUBREL.
    v31 = (connect(level=3, client_id="old", password=b"pw") +
           subscribe(5, [("x/y", 1)], first=0x8A) + unsubscribe(6, ["x/y"], first=0xAA) +
           ack(0x6A, 9) + publish("x/y", b"", qos=1, pid=2))
    c.add("mq-31-session", bytes([CLIENT, 0]) + v31)
    c.add("mq-31-session-cut", bytes([CLIENT, 9]) + v31)
    c.add("mq-31-preset-subscribe-dup", bytes([CLIENT | L31, 0]) + subscribe(5, [("x", 0)], 0x8A))
    server = [
        ("connack", packet(0x20, bytes([1, 0]))),
        ("connack-refused", packet(0x20, bytes([0, 5]))),
        ("suback", packet(0x90, struct.pack(">H", 3) + bytes([0, 1, 2, 0x80]))),
        ("unsuback", ack(0xB0, 4)),
        ("pingresp", packet(0xD0, b"")),
        ("publish", publish("a/b", b"x" * 200, qos=1, pid=1)),
    ]
    for name, p in server:
        c.add(f"mq-server-{name}", bytes([SERVER | L311, 0]) + p)
    c.add("mq-server-session", bytes([SERVER | L311, 5]) + b"".join(p for _, p in server))
    # Edges: Remaining Length of 4 bytes, over the limit, unsupported level, reserved type.
    c.add("mq-rl-4-bytes", bytes([CLIENT | 0x10, 0]) + b"\x30\xff\xff\xff\x7f")
    c.add("mq-rl-5-bytes", bytes([CLIENT, 0]) + b"\x30\xff\xff\xff\xff\x01")
    c.add("mq-over-256", bytes([CLIENT | 0x10, 0]) + publish("t", b"y" * 300))
    c.add("mq-level-5", bytes([CLIENT, 0]) + packet(0x10, s("MQTT") + bytes([5, 2, 0, 60]) + s("c")))
    c.add("mq-reserved-type", bytes([CLIENT, 0]) + packet(0xF0, b""))


# ---- FOX ----------------------------------------------------------------------------------------

def fox_codec():
    c = Corpus("fox_codec")
    msgs = [
        {"ft": "LOGIN", "id": 1, "data": {"realm": "realm1"}},
        {"ft": "LOGIN", "id": 1, "data": {"realm": "realm1",
                                          "auth": {"authid": "joe", "secret": "s"}}},
        {"ft": "ECHO", "id": 2, "data": {"kv": "ping"}},
        {"ft": "TRACE", "id": 3, "uri": ["sensor", "*", "temp"], "opt": {"retained": True}},
        {"ft": "UNTRACE", "id": 4, "unr": 3},
        {"ft": "PUSH", "id": 5, "uri": ["a", "b"], "data": {"kv": {"t": 21.5}},
         "opt": {"retain": True, "trace": True, "ack": True}},
        {"ft": "PUSH", "id": 6, "uri": ["a"], "data": {"args": [1, "x"], "kwargs": {"k": None}}},
        {"ft": "PUSH", "id": 7, "uri": ["m"], "data": {"payload": b"\x00\x01raw"}},
        {"ft": "PUSH", "id": 8, "uri": ["m"], "data": {"payload": "[1,2]"}},
        {"ft": "REG", "id": 9, "uri": ["proc"], "opt": {}},
        {"ft": "UNREG", "id": 10, "unr": 9},
        {"ft": "CALL", "id": 11, "uri": ["proc"], "data": {"kv": [1, 2]}, "opt": {"timeout": 5}},
        {"ft": "YIELD", "qid": 4294967297.0, "rqt": "OK", "data": {"kv": 3}},
        {"ft": "YIELD", "qid": 12, "rqt": "ERR", "data": {"code": "e.x", "message": "m"}},
        {"ft": "CONFIRM", "qid": 13},
        {"ft": "GOODBYE"},
        {"id": 2, "rsp": "OK", "data": {"kv": None}},
        {"id": 3, "rsp": "EVENT", "qid": 9007199254740992, "data": {"kv": [1]},
         "hdr": {"topic": ["a"], "publisher": 5}},
        {"ft": "PUSH", "id": 14, "uri": ["w"], "opt": {"will": {"kv": 0}, "when": None,
                                                      "after": 0.0, "filter": {"x": 1}}},
    ]
    packed = [msgpack.packb(m, use_bin_type=True) for m in msgs]
    for i, p in enumerate(packed):
        c.add(f"fox-{msgs[i].get('ft', msgs[i].get('rsp'))}-{i}", bytes([0, 0]) + p)
    stream = b"".join(packed)
    for limit, seed in ((0, 0), (0, 11), (1, 4), (2, 1)):
        c.add(f"fox-stream-l{limit}-s{seed}", bytes([limit, seed]) + stream)
    c.add("fox-not-a-map", bytes([0, 0]) + msgpack.packb([1, 2]))
    c.add("fox-reserved", bytes([0, 0, 0x81, 0xa1, 0x61, 0xc1]))
    c.add("fox-int-key", bytes([0, 0, 0x81, 0x01, 0x02]))
    c.add("fox-big-count", bytes([0, 0, 0xdf, 0xff, 0xff, 0xff, 0xff]))
    c.add("fox-ext", bytes([0, 0, 0x81, 0xa1, 0x78, 0xc7, 0x02, 0x05, 0xaa, 0xbb]))
    deep = b"\x81\xa1d" * 99 + b"\x80"
    c.add("fox-deep-100", bytes([0, 0]) + deep)
    c.add("fox-deep-101", bytes([0, 0]) + b"\x81\xa1d" + deep)


# ---- config files -------------------------------------------------------------------------------

def config():
    c = Corpus("config")
    with open(os.path.join(ROOT, "boards", "fox.json"), "rb") as f:
        c.add("boards-fox", f.read())
    docs = {
        "empty": {},
        "flags": {"bind": "::1", "port": 9001, "mqtt_port": 0, "rawsocket_port": 8082,
                  "fox_port": 0, "data": "/tmp/x", "memory": True, "sync": "full",
                  "log_level": "debug", "mqtt_default_realm": "home"},
        "limits": {"limits": {"max_message_size": 1024, "max_connections": 5,
                              "max_connections_per_ip": 2, "session_queue": 3,
                              "session_queue_bytes": 4096, "handshake_timeout": 2,
                              "history_max_rows": 10, "history_max_age": 60}},
        "realms-open": {"realms": {"home": {}, "lab": {}, "*": {}}},
        "auth": {"realms": {"realm1": {
            "anonymous": "guest",
            "users": {"joe": {"secret": "joe-secret", "role": "user"},
                      "admin": {"secret": "pbkdf2-sha256$1000$c2FsdA$aGFzaA", "role": "admin",
                                "salt": "salt", "iterations": 1000, "keylen": 32}},
            "permissions": {
                "admin": [{"uri": "#", "allow": ["publish", "subscribe", "call", "register"]}],
                "user": [{"uri": "sys.#", "allow": []},
                         {"uri": "a.*.c.#", "allow": ["publish", "subscribe"]},
                         {"uri": "#", "allow": ["call", "register"]}],
                "guest": [{"uri": "public.#", "allow": ["subscribe"]}]}}}},
        "bad-limit": {"limits": {"max_message_size": 0}},
        "bad-key": {"portt": 1},
    }
    for name, doc in docs.items():
        c.add(f"cfg-{name}", json.dumps(doc, indent=1))
    c.add("cfg-comments", '// fox\n{ /* port */ "port": 9000, "realms": {"a.b_1": {}} }\n')
    c.add("cfg-syntax", '{"port": 9000,, }')


def cluster_config():
    c = Corpus("cluster_config")
    for name in ("cluster3.json", "masterfree.json"):
        with open(os.path.join(ROOT, "demo", name), "rb") as f:
            c.add(f"demo-{name}", f.read())
    one = {"syncQuorum": 1, "storageQuorum": 1, "secret": "s",
           "nodes": {"A": {"host": "h", "fox": 1, "roles": ["entry", "ndb", "sync"],
                           "port": 0, "mqtt": 1883, "rawsocket": 8081, "data": "d"}}}
    c.add("cl-one-node", json.dumps(one))
    split = {"syncQuorum": 2, "storageQuorum": 1, "secret": "s", "entryTimeoutMs": 100,
             "nodes": {"e-1": {"host": "10.0.0.1", "fox": 1735, "roles": ["entry"], "port": 9000},
                       "n_1": {"host": "10.0.0.2", "fox": 1735, "roles": ["ndb"], "data": "/d/n"},
                       "s1": {"host": "10.0.0.3", "fox": 1735, "roles": ["sync"], "data": "/d/s1"},
                       "s2": {"host": "10.0.0.4", "fox": 1735, "roles": ["sync"], "data": "/d/s2"},
                       "s3": {"host": "10.0.0.5", "fox": 1735, "roles": ["sync"], "data": "/d/s3"}}}
    c.add("cl-split-roles", json.dumps(split, indent=1))
    c.add("cl-port-twice", json.dumps({**one, "nodes": {
        "A": {"host": "h", "fox": 1, "roles": ["entry", "ndb", "sync"], "mqtt": 1, "data": "d"}}}))
    c.add("cl-comments", "/* c */ " + json.dumps(one) + " // end\n")


def minimize(build):
    """Deletes the seeds of each corpus that libFuzzer's merge finds add no coverage."""
    for target in sorted(os.listdir(OUT)):
        d = os.path.join(OUT, target)
        binary = os.path.join(build, "tests", "fuzz", f"fuzz_{target}")
        if not os.path.isdir(d):
            continue
        if not os.path.exists(binary):
            sys.exit(f"no {binary}: build the fuzz targets first (make fuzz)")
        with tempfile.TemporaryDirectory() as kept:
            subprocess.run([binary, "-merge=1", kept, d], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            keep = set(os.listdir(kept))
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                if hashlib.sha1(f.read()).hexdigest() not in keep:
                    os.remove(os.path.join(d, name))


def main():
    if not os.path.isdir(VECTORS):
        sys.exit(f"no WAMP vectors at {VECTORS}")
    build = None
    if len(sys.argv) == 3 and sys.argv[1] == "--minimize":
        build = sys.argv[2]
    elif len(sys.argv) != 1:
        sys.exit(__doc__)
    messages = vector_messages() + handmade_wamp()
    wamp_codec(messages)
    rawsocket(messages)
    mqtt_codec()
    fox_codec()
    config()
    cluster_config()
    if build:
        minimize(build)
    for target in sorted(os.listdir(OUT)):
        d = os.path.join(OUT, target)
        if os.path.isdir(d):
            files = os.listdir(d)
            size = sum(os.path.getsize(os.path.join(d, f)) for f in files)
            print(f"corpus/{target}: {len(files)} files, {size} bytes")


if __name__ == "__main__":
    main()
