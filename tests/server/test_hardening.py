#!/usr/bin/env python3
"""Regression tests of `slrun serve` against hostile and careless input (docs/security.md).

One group per class of problem: each sends what used to crash, stall or mislead the server and
checks that it now gets a clear 4xx (or the documented behaviour) while /health and a correct
client keep working. Prints "PASS <group>"; any failure raises. Loopback only, bounded in time.
"""
import json
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server import ServerProcess, check, check_error, http_request, setup  # noqa: E402

KEY = "hardening-key"


def deep(levels, leaf="x"):
    """A JSON text nested `levels` deep (arrays and objects alternating)."""
    return "[{\"a\":" * (levels // 2) + json.dumps(leaf) + "}]" * (levels // 2)


def raw_exchange(port, data, timeout=10, read_all=True):
    """Sends raw bytes, returns what the server answered (until it closes or times out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if not read_all:
                    break
        except socket.timeout:
            pass
    return b"".join(chunks)


def status_of(response):
    match = re.match(rb"HTTP/1\.1 (\d{3})", response)
    return int(match.group(1)) if match else None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def chat_ok(server, model_id, timeout=30):
    status, body = http_request(server.base, "POST", "/v1/chat/completions", key=KEY,
                                body={"model": model_id, "max_tokens": 3, "temperature": 0,
                                      "messages": [{"role": "user", "content": "hello"}]},
                                timeout=timeout)
    check(status == 200, f"reference chat request: {status} {body}")


# XXH64 (the snapshot checksum), to craft snapshot files with a valid checksum.
M = (1 << 64) - 1
P1, P2, P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
P4, P5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5


def xxh64(data, seed=0):
    def rotl(x, r):
        return ((x << r) | (x >> (64 - r))) & M

    def rnd(acc, value):
        return rotl((acc + value * P2) & M, 31) * P1 & M

    def merge(acc, value):
        return ((acc ^ rnd(0, value)) * P1 + P4) & M

    n, p = len(data), 0
    word = lambda at, size: int.from_bytes(data[at:at + size], "little")  # noqa: E731
    if n >= 32:
        v = [(seed + P1 + P2) & M, (seed + P2) & M, seed, (seed - P1) & M]
        while p + 32 <= n:
            v = [rnd(v[i], word(p + 8 * i, 8)) for i in range(4)]
            p += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
        for x in v:
            h = merge(h, x)
    else:
        h = (seed + P5) & M
    h = (h + n) & M
    while p + 8 <= n:
        h = (rotl(h ^ rnd(0, word(p, 8)), 27) * P1 + P4) & M
        p += 8
    if p + 4 <= n:
        h = (rotl(h ^ (word(p, 4) * P1 & M), 23) * P2 + P3) & M
        p += 4
    while p < n:
        h = rotl(h ^ (data[p] * P5 & M), 11) * P1 & M
        p += 1
    h ^= h >> 33
    h = h * P2 & M
    h ^= h >> 29
    h = h * P3 & M
    h ^= h >> 32
    return h


def read_snapshot(path):
    data = open(path, "rb").read()
    check(xxh64(data[:-8]) == int.from_bytes(data[-8:], "little"), "checksum model of the test")
    size = int.from_bytes(data[16:20], "little")
    header = json.loads(data[20:20 + size])
    return data[:20], header, data[20 + size:-8]


def write_snapshot(path, prefix, header_text, body):
    header = header_text.encode()
    data = prefix[:16] + len(header).to_bytes(4, "little") + header + body
    open(path, "wb").write(data + xxh64(data).to_bytes(8, "little"))


def test_deep_nesting(server, model_id):
    base = server.base
    hostile = deep(10000)
    bodies = {
        "message content": '{"messages":[{"role":"user","content":' + hostile + '}]}',
        "message field": '{"messages":[{"role":"user","content":"x","extra":' + hostile + '}]}',
        "tools": '{"messages":[{"role":"user","content":"x"}],"tools":' + hostile + '}',
        "chat_template_kwargs": '{"messages":[{"role":"user","content":"x"}],'
                                '"chat_template_kwargs":{"k":' + hostile + '}}',
        "completion field": '{"prompt":"x","metadata":' + hostile + '}',
    }
    for what, body in bodies.items():
        path = "/v1/completions" if what == "completion field" else "/v1/chat/completions"
        status, reply = http_request(base, "POST", path, key=KEY, raw=body.encode())
        check_error(status, reply, 400, f"deep {what}")
        check("nesting deeper than" in reply["error"]["message"], f"deep {what}: {reply}")
    # Within the limit a nested field still reaches the template unchanged.
    status, reply = http_request(base, "POST", "/v1/chat/completions", key=KEY,
                                 raw=('{"max_tokens":1,"messages":[{"role":"user","content":"x"}],'
                                      '"chat_template_kwargs":{"k":' + deep(20) + '}}').encode())
    check(status == 200, f"nested kwargs within the limit: {status} {reply}")
    check(http_request(base, "GET", "/health")[0] == 200, "health after deep nesting")
    chat_ok(server, model_id)
    print("PASS deep nesting")


def test_slow_headers(server, model_id, head_timeout):
    """Connections that trickle their heads hold no worker and are closed with 408."""
    port = server.port
    count = 100  # more than the server's worker threads used to be (--max-queue + 48)
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
        sockets.append(s)
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for s in sockets:
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass
            time.sleep(0.3)
    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        time.sleep(0.5)
        start = time.time()
        check(http_request(server.base, "GET", "/health", timeout=5)[0] == 200,
              "health while heads trickle")
        chat_ok(server, model_id, timeout=10)
        check(time.time() - start < 5, "a correct client waited behind slow heads")
        # Every slow connection is answered 408 once the head deadline passes.
        time.sleep(head_timeout + 1)
    finally:
        stop.set()
        thread.join()
    answered = 0
    for s in sockets:
        s.settimeout(5)
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        answered += status_of(data) == 408
        s.close()
    check(answered == count, f"{answered} of {count} slow connections got 408")
    print("PASS slow headers")


def test_body_limits(server, model_id, max_body):
    port = server.port
    before = rss_kib(server.proc.pid)
    # A chunked body far past the limit: refused as the limit is crossed, not read to the end.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  KEY.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % (1 << 20) + b"a" * (1 << 20) + b"\r\n"
        sent = 0
        try:
            for _ in range(200):  # 200 MiB
                s.sendall(chunk)
                sent += 1
        except OSError:
            pass
        s.settimeout(5)
        try:
            reply = s.recv(4096)
        except OSError:
            reply = b""
    check(status_of(reply) == 413, f"chunked oversize body: {reply[:200]!r}")
    check(sent < 200, "the server read a 200 MiB chunked body to its end")
    # Content-Length past the limit: refused from the head alone.
    reply = raw_exchange(port, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                         str(max_body + 1).encode() + b"\r\n\r\n")
    check(status_of(reply) == 413, f"Content-Length oversize: {reply[:200]!r}")
    grown = rss_kib(server.proc.pid) - before
    check(grown < 3 * max_body // 1024 + 64 * 1024, f"the server grew by {grown} KiB")
    check(http_request(server.base, "GET", "/health")[0] == 200, "health after big bodies")
    chat_ok(server, model_id)
    print("PASS body limits")


def test_many_keys(server, model_id):
    many = "{" + ",".join(f'"k{i}":{i}' for i in range(100000)) + "}"
    for what, body in {
        "top level": many[:-1] + ',"prompt":"x"}',
        "nested": '{"prompt":"x","metadata":' + many + "}",
        "tools": '{"messages":[{"role":"user","content":"x"}],"tools":[' + many + "]}",
    }.items():
        path = "/v1/chat/completions" if what == "tools" else "/v1/completions"
        start = time.time()
        status, reply = http_request(server.base, "POST", path, key=KEY, raw=body.encode())
        elapsed = time.time() - start
        check_error(status, reply, 400, f"many keys ({what})")
        check("more than" in reply["error"]["message"], f"many keys ({what}): {reply}")
        check(elapsed < 2, f"many keys ({what}) took {elapsed:.1f} s")
    # Duplicate keys are ambiguous: refused, naming the key.
    status, reply = http_request(server.base, "POST", "/v1/completions", key=KEY,
                                 raw=b'{"prompt":"x","max_tokens":1,"max_tokens":2}')
    check_error(status, reply, 400, "duplicate key")
    check("duplicate key 'max_tokens'" in reply["error"]["message"], f"duplicate: {reply}")
    print("PASS many keys")


def test_port_in_use(args, artifact, server):
    proc = subprocess.run([args.slrun, "serve", "--artifact", artifact, "--weights", args.model,
                           "--host", "127.0.0.1", "--port", str(server.port)],
                          capture_output=True, text=True, timeout=60)
    check(proc.returncode != 0, "a second server on a port in use started")
    check("in use" in proc.stderr and "listening" not in proc.stderr,
          f"second server's message: {proc.stderr}")
    check(http_request(server.base, "GET", "/health")[0] == 200, "first server after the second")
    print("PASS port in use")


def test_typed_validation(server, model_id, snapdir, args, artifact):
    base = server.base
    cases = [
        ({"messages": [{"role": "user", "content": [{"type": 7, "text": "x"}]}]},
         "messages[0].content[0]"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 7}]}]},
         "messages[0].content[0]"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
         "messages[0].content[0]"),
        ({"messages": [{"role": 1, "content": "x"}]}, "messages[0]"),
        ({"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": 1}},
         "stream_options"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 2 ** 70}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "seed": 1.5}, "seed"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": [""]}, "stop"),
        ({"messages": [{"role": "user", "content": "x"}], "metadata": {"session_id": 5}},
         "session_id"),
        ({"messages": [{"role": "user", "content": "x"}], "tools": {"a": 1}}, "tools"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ]
    for body, param in cases:
        status, reply = http_request(base, "POST", "/v1/chat/completions", key=KEY, body=body)
        check_error(status, reply, 400, f"typed validation {body}")
        check(reply["error"]["param"] == param, f"param of {body}: {reply}")
    status, reply = http_request(base, "POST", "/v1/completions", key=KEY,
                                 body={"prompt": [1, 2 ** 64 - 1]})
    check_error(status, reply, 400, "token id out of range")

    # A snapshot header with fields of the wrong JSON type is a 400, not a 500.
    status, reply = http_request(base, "POST", "/v1/chat/completions", key=KEY,
                                 body={"model": model_id, "max_tokens": 2, "session_id": "typed",
                                       "messages": [{"role": "user", "content": "hi"}]})
    check(status == 200, f"session for the snapshot: {status} {reply}")
    status, reply = http_request(base, "POST", "/v1/sessions/typed/snapshot", key=KEY,
                                 body={"name": "typed"})
    check(status == 200, f"snapshot: {status} {reply}")
    prefix, header, body = read_snapshot(os.path.join(snapdir, "typed.slsnap"))
    for field, value in [("version", "1"), ("length", "12"), ("slots", {}), ("meta", [1]),
                         ("checkpoints", [True]), ("checkpoints", "x"), ("length", -1),
                         ("length", 2 ** 64 - 1)]:
        bad = dict(header, **{field: value})
        write_snapshot(os.path.join(snapdir, "badtype.slsnap"), prefix, json.dumps(bad), body)
        status, reply = http_request(base, "POST", "/v1/snapshots/badtype/load", key=KEY,
                                     body={"session_id": "badtype"})
        check_error(status, reply, 400, f"snapshot header {field}={value!r}")
        check(reply["error"]["code"] == "invalid_snapshot", f"{field}: {reply}")
    write_snapshot(os.path.join(snapdir, "badtype.slsnap"), prefix, deep(100000), body)
    status, reply = http_request(base, "POST", "/v1/snapshots/badtype/load", key=KEY,
                                 body={"session_id": "badtype"})
    check_error(status, reply, 400, "deeply nested snapshot header")

    # `slrun chat` /load of such a snapshot says so and goes on.
    bad = dict(header, meta={"messages": [{"role": 5}]})
    write_snapshot(os.path.join(snapdir, "badchat.slsnap"), prefix, json.dumps(bad), body)
    bad = dict(header, version="one")
    write_snapshot(os.path.join(snapdir, "badversion.slsnap"), prefix, json.dumps(bad), body)
    proc = subprocess.run([args.slrun, "chat", "--artifact", artifact, "--weights", args.model,
                           "--snapshot-dir", snapdir, "--max-tokens", "2", "--max-context", "512"],
                          input="/load badchat\n/load badversion\n/stats\n/quit\n",
                          capture_output=True, text=True, timeout=120)
    check(proc.returncode == 0, f"slrun chat after bad /load: rc {proc.returncode}: {proc.stderr}")
    check(proc.stdout.count("(error:") == 2 and "(session:" in proc.stdout,
          f"slrun chat output: {proc.stdout}")
    print("PASS typed validation")


def test_small_ones(args, artifact, server, model_id, snapdir):
    base, port = server.base, server.port
    # --max-queue 0 is refused at start.
    proc = subprocess.run([args.slrun, "serve", "--artifact", artifact, "--weights", args.model,
                           "--port", "0", "--max-queue", "0"], capture_output=True, text=True,
                          timeout=30)
    check(proc.returncode == 2 and "--max-queue" in proc.stderr, f"--max-queue 0: {proc.stderr}")
    # Sessions that cannot all fit in memory are refused at start, not by an OOM later.
    proc = subprocess.run([args.slrun, "serve", "--artifact", artifact, "--weights", args.model,
                           "--port", "0", "--max-sessions", "100000", "--max-context",
                           "100000000"], capture_output=True, text=True, timeout=60)
    check(proc.returncode == 1 and "lower --max-sessions or --max-context" in proc.stderr and
          "bytes" in proc.stderr, f"sessions past memory: {proc.returncode} {proc.stderr}")

    # Wrong method: 405 with Allow.
    reply = raw_exchange(port, b"GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                               b"Authorization: Bearer " + KEY.encode() +
                         b"\r\nConnection: close\r\n\r\n")
    check(status_of(reply) == 405 and b"\r\nAllow: POST\r\n" in reply, f"405: {reply[:300]!r}")
    reply = raw_exchange(port, b"DELETE /health HTTP/1.1\r\nConnection: close\r\n\r\n")
    check(status_of(reply) == 405 and b"Allow: GET" in reply, f"405 health: {reply[:300]!r}")

    # No absolute paths in responses.
    workdir = os.path.dirname(snapdir)
    status, reply = http_request(base, "POST", "/v1/chat/completions", key=KEY,
                                 body={"model": model_id, "max_tokens": 2, "session_id": "paths",
                                       "messages": [{"role": "user", "content": "hi"}]})
    status, reply = http_request(base, "POST", "/v1/sessions/paths/snapshot", key=KEY,
                                 body={"name": "paths"})
    check(status == 200 and "path" not in reply and workdir not in json.dumps(reply),
          f"snapshot response: {reply}")
    for name in ("missing", "badtype"):
        status, reply = http_request(base, "POST", f"/v1/snapshots/{name}/load", key=KEY,
                                     body={"session_id": "p2"})
        check(status in (400, 404) and workdir not in json.dumps(reply) and
              "/" not in reply["error"]["message"], f"error body reveals a path: {reply}")

    # Snapshot count limit (--max-snapshots 8 on this server): the 9th name is refused with 507.
    existing = len([f for f in os.listdir(snapdir) if f.endswith(".slsnap")])
    statuses = []
    for i in range(10 - existing):
        status, reply = http_request(base, "POST", "/v1/sessions/paths/snapshot", key=KEY,
                                     body={"name": f"many{i}"})
        statuses.append(status)
    check(507 in statuses and statuses.count(200) == max(0, 8 - existing),
          f"snapshot count limit: {statuses} with {existing} present")
    check(len([f for f in os.listdir(snapdir) if f.endswith(".slsnap")]) <= 8,
          "more snapshots than --max-snapshots on disk")
    # Overwriting an existing name is allowed at the limit.
    status, reply = http_request(base, "POST", "/v1/sessions/paths/snapshot", key=KEY,
                                 body={"name": "paths"})
    check(status == 200, f"overwrite at the limit: {status} {reply}")

    # Pipelined requests on one connection are all answered, in order.
    pipelined = b"".join(
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" if i % 2 == 0 else
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
        b"\r\n\r\n" for i in range(6)) + b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n"
    reply = raw_exchange(port, pipelined)
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3})", reply)]
    check(statuses == [200] * 7, f"pipelined statuses: {statuses}")
    check(reply.count(b'"object":"list"') == 3, "pipelined /v1/models answers")

    # A wrong key of the right length is refused like any other.
    status, reply = http_request(base, "GET", "/v1/models", key="x" * len(KEY))
    check_error(status, reply, 401, "wrong key")
    print("PASS small ones")


def test_retry_after(args, artifact, work):
    """429 carries Retry-After (a server with --max-queue 1 and a long request)."""
    server = ServerProcess(args.slrun, artifact, args.model, work, "retry",
                           ["--max-queue", "1", "--max-context", "4096"])
    try:
        server.wait_ready()
        body = json.dumps({"prompt": "busy", "max_tokens": 800, "temperature": 0,
                           "ignore_eos": True}).encode()
        request = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                   b"\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode() +
                   b"\r\n\r\n" + body)
        replies = []
        threads = [threading.Thread(target=lambda: replies.append(raw_exchange(
            server.port, request, timeout=120))) for _ in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join()
        limited = [r for r in replies if status_of(r) == 429]
        check(limited, f"no 429: {[status_of(r) for r in replies]}")
        for r in limited:
            check(b"\r\nRetry-After: " in r, f"429 without Retry-After: {r[:300]!r}")
    finally:
        server.stop()
    print("PASS retry after")


def test_failed_generation_recovers(server, model_id, snapdir):
    """A session whose state makes sampling fail (NaN) is reset; its next request works."""
    base = server.base
    status, reply = http_request(base, "POST", "/v1/chat/completions", key=KEY,
                                 body={"model": model_id, "max_tokens": 2, "session_id": "nan-src",
                                       "messages": [{"role": "user", "content": "hello"}]})
    check(status == 200, f"source session: {status} {reply}")
    status, reply = http_request(base, "POST", "/v1/sessions/nan-src/snapshot", key=KEY,
                                 body={"name": "paths"})
    check(status == 200, f"snapshot for poisoning: {status} {reply}")
    prefix, header, body = read_snapshot(os.path.join(snapdir, "paths.slsnap"))
    length = header["length"]
    history = [int.from_bytes(body[4 * i:4 * i + 4], "little") for i in range(length)]
    # Every Mamba state byte 0xff: NaN in f32 and bf16.
    poisoned = bytearray(body)
    offset = 4 * length
    for slot in header["slots"]:
        if slot["kind"] == "mamba":
            poisoned[offset:offset + slot["bytes"]] = b"\xff" * slot["bytes"]
        offset += slot["bytes"]
    poisoned[offset:] = b"\xff" * (len(poisoned) - offset)  # checkpoints: Mamba states only
    write_snapshot(os.path.join(snapdir, "paths.slsnap"), prefix, json.dumps(header),
                   bytes(poisoned))
    status, reply = http_request(base, "POST", "/v1/snapshots/paths/load", key=KEY,
                                 body={"session_id": "nan"})
    check(status == 200, f"load poisoned: {status} {reply}")
    ask = lambda extra: http_request(base, "POST", "/v1/completions", key=KEY,  # noqa: E731
                                     body={"model": model_id, "prompt": history + extra,
                                           "max_tokens": 2, "temperature": 0,
                                           "session_id": "nan"})
    status, reply = ask([5])
    check(status == 500 and "NaN" in reply["error"]["message"], f"poisoned state: {status} {reply}")
    status, reply = ask([5, 6])
    check(status == 200, f"the session after a failed generation: {status} {reply}")
    check(reply["session_reuse"] == "none", f"reuse after reset: {reply}")
    print("PASS failed generation recovers")


def main():
    args, artifact, model_id = setup()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    snapdir = os.path.join(args.work, "snapshots")
    head_timeout, max_body = 2, 4 << 20
    server = ServerProcess(args.slrun, artifact, args.model, args.work, "hardening",
                           ["--api-key", KEY, "--max-context", "512", "--snapshot-dir", snapdir,
                            "--max-snapshots", "8", "--head-timeout", str(head_timeout),
                            "--max-body-bytes", str(max_body)])
    try:
        server.wait_ready()
        test_deep_nesting(server, model_id)
        test_slow_headers(server, model_id, head_timeout)
        test_body_limits(server, model_id, max_body)
        test_many_keys(server, model_id)
        test_port_in_use(args, artifact, server)
        test_typed_validation(server, model_id, snapdir, args, artifact)
        test_failed_generation_recovers(server, model_id, snapdir)
        test_small_ones(args, artifact, server, model_id, snapdir)
        check(server.proc.poll() is None, "the server exited")
        test_retry_after(args, artifact, args.work)
    except Exception:
        sys.stderr.write(f"--- server log ---\n{server.tail()}\n")
        raise
    finally:
        server.stop()
    print("ALL PASSED")


if __name__ == "__main__":
    main()
