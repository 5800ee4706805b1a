#!/usr/bin/env python3
"""End-to-end tests of `slrun serve` on the bundled tiny model (CPU backend, random weights).

Compiles the model with slc, starts the server on free 127.0.0.1 ports and talks to it with the
official `openai` client and raw HTTP (urllib). Prints "PASS <group>" per group; any failure
raises (non-zero exit). Servers are always terminated in a `finally`.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import openai

API_KEY = "test-key-123"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, slrun, artifact, weights, work, name, extra):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(work, f"{name}.log")
        self.log = open(self.log_path, "w")
        self.cmd = [slrun, "serve", "--artifact", artifact, "--weights", weights,
                    "--host", "127.0.0.1", "--port", str(self.port)] + extra
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=work)

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                status, _ = http_request(self.base, "GET", "/health")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server not ready in time:\n" + self.tail())

    def tail(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def http_request(base, method, path, body=None, key=None, raw=None, timeout=60):
    """Returns (status, parsed JSON or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def check_error(status, body, expected_status, what):
    check(status == expected_status, f"{what}: expected HTTP {expected_status}, got {status}: {body}")
    check(isinstance(body, dict) and "error" in body, f"{what}: no error body: {body}")
    err = body["error"]
    for field in ("message", "type", "param", "code"):
        check(field in err, f"{what}: error body lacks '{field}': {body}")
    check(isinstance(err["message"], str) and err["message"], f"{what}: empty message")


def compile_model(args):
    os.makedirs(args.work, exist_ok=True)
    mlir = os.path.join(args.work, "tiny.mlir")
    artifact = os.path.join(args.work, "tiny.slpkg")
    subprocess.run([args.slc, "import", args.model, "-o", mlir], check=True)
    subprocess.run([args.slc, "compile", mlir, "--prefill-chunk=64", "-o", artifact], check=True)
    return artifact


def setup(extra_arguments=()):
    """The command line every server test takes (--slc --slrun --model --work, plus
    `extra_arguments` as (flag, type, default)), a fresh work directory and the compiled model.
    Returns (args, artifact path, model id)."""
    parser = argparse.ArgumentParser()
    for flag in ("--slc", "--slrun", "--model", "--work"):
        parser.add_argument(flag, required=True)
    for flag, kind, default in extra_arguments:
        parser.add_argument(flag, type=kind, default=default)
    args = parser.parse_args()
    for name in ("slc", "slrun", "model", "work"):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    if os.path.isdir(args.work):
        shutil.rmtree(args.work)
    os.makedirs(args.work)
    artifact = compile_model(args)
    return args, artifact, os.path.basename(artifact)


def main():
    args, artifact, model_id = setup()
    snapdir = os.path.join(args.work, "snapshots")

    servers = []
    try:
        main_server = ServerProcess(args.slrun, artifact, args.model, args.work, "main",
                                    ["--api-key", API_KEY, "--max-context", "512",
                                     "--snapshot-dir", snapdir, "--max-queue", "16",
                                     "--chunk", "16"])
        servers.append(main_server)
        main_server.wait_ready()
        run_main_tests(main_server, model_id, snapdir)
        test_load(main_server, model_id, API_KEY)

        small = ServerProcess(args.slrun, artifact, args.model, args.work, "queue",
                              ["--max-queue", "1", "--max-context", "4096"])
        servers.append(small)
        small.wait_ready()
        test_queue_full(small, model_id)
        test_disconnect(small, model_id)
        test_shutdown(small)
    except Exception:
        for server in servers:
            sys.stderr.write(f"--- server log ({server.log_path}) ---\n{server.tail()}\n")
        raise
    finally:
        for server in servers:
            server.stop()
    print("ALL PASSED")


def run_main_tests(server, model_id, snapdir):
    base = server.base
    client = openai.OpenAI(base_url=base + "/v1", api_key=API_KEY, max_retries=0, timeout=60)

    # --- health, models, auth ---
    status, body = http_request(base, "GET", "/health")
    check(status == 200 and body == {"status": "ok"}, f"/health: {status} {body}")
    models = client.models.list()
    check([m.id for m in models.data] == [model_id], f"models: {models}")
    print("PASS health and models")

    status, body = http_request(base, "GET", "/v1/models")
    check_error(status, body, 401, "no API key")
    status, body = http_request(base, "GET", "/v1/models", key="wrong")
    check_error(status, body, 401, "wrong API key")
    bad_client = openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0)
    try:
        bad_client.models.list()
        raise AssertionError("a wrong key was accepted by the openai client")
    except openai.AuthenticationError:
        pass
    status, body = http_request(base, "GET", "/health")
    check(status == 200, "/health needs no key")
    print("PASS api key")

    messages = [{"role": "user", "content": "Hello, who are you?"}]

    # --- non-streaming chat ---
    r = client.chat.completions.create(model=model_id, messages=messages, max_tokens=12,
                                       temperature=0)
    check(r.object == "chat.completion" and r.model == model_id, f"chat: {r}")
    check(len(r.choices) == 1 and r.choices[0].message.role == "assistant", f"chat: {r}")
    check(r.choices[0].finish_reason in ("stop", "length"), f"finish: {r}")
    check(isinstance(r.choices[0].message.content, str), f"content: {r}")
    greedy_chat = r
    print("PASS non-streaming chat")

    # --- streaming chat ---
    stream = client.chat.completions.create(model=model_id, messages=messages, max_tokens=12,
                                            temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    pieces, finish, usage, chunks = [], None, None, 0
    for chunk in stream:
        chunks += 1
        check(chunk.object == "chat.completion.chunk", f"chunk: {chunk}")
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    check(chunks >= 3, f"only {chunks} chunks")
    check("".join(pieces) == greedy_chat.choices[0].message.content,
          f"streamed text {''.join(pieces)!r} != {greedy_chat.choices[0].message.content!r}")
    check(finish == greedy_chat.choices[0].finish_reason, f"stream finish {finish}")
    check(usage is not None and usage.prompt_tokens == greedy_chat.usage.prompt_tokens and
          usage.completion_tokens == greedy_chat.usage.completion_tokens, f"usage {usage}")
    # The raw SSE stream ends with data: [DONE].
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", "/v1/chat/completions",
                 json.dumps({"model": model_id, "messages": messages, "max_tokens": 4,
                             "stream": True, "temperature": 0}),
                 {"Authorization": "Bearer " + API_KEY, "Content-Type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read().decode()
    conn.close()
    check(resp.status == 200 and resp.getheader("Content-Type", "").startswith("text/event-stream"),
          f"SSE response {resp.status} {resp.getheaders()}")
    events = [line for line in raw.split("\n") if line]
    check(all(e.startswith("data: ") for e in events), f"SSE lines: {raw!r}")
    check(events[-1] == "data: [DONE]", f"SSE end: {events[-1]!r}")
    print("PASS streaming chat")

    # --- completions ---
    c = client.completions.create(model=model_id, prompt="Once upon a time", max_tokens=10,
                                  temperature=0, extra_body={"ignore_eos": True})
    check(c.object == "text_completion" and c.choices[0].finish_reason == "length", f"{c}")
    check(c.usage.completion_tokens == 10, f"usage {c.usage}")
    text = "".join(ch.choices[0].text for ch in client.completions.create(
        model=model_id, prompt="Once upon a time", max_tokens=10, temperature=0, stream=True,
        extra_body={"ignore_eos": True}) if ch.choices)
    check(text == c.choices[0].text, f"streamed completion {text!r} != {c.choices[0].text!r}")
    print("PASS completions")

    # --- greedy determinism and seeds ---
    a = client.completions.create(model=model_id, prompt="The weather", max_tokens=16,
                                  temperature=0, extra_body={"ignore_eos": True})
    b = client.completions.create(model=model_id, prompt="The weather", max_tokens=16,
                                  temperature=0, extra_body={"ignore_eos": True})
    check(a.choices[0].text == b.choices[0].text, "greedy differs between two runs")
    r2 = client.chat.completions.create(model=model_id, messages=messages, max_tokens=12,
                                        temperature=0)
    check(r2.choices[0].message.content == greedy_chat.choices[0].message.content,
          "greedy chat differs")
    print("PASS greedy determinism")

    def sampled(seed):
        return client.completions.create(model=model_id, prompt="The weather", max_tokens=24,
                                         temperature=1.0, top_p=0.95, seed=seed,
                                         extra_body={"ignore_eos": True}).choices[0].text
    s1, s2, s3 = sampled(1234), sampled(1234), sampled(99)
    check(s1 == s2, "same seed, different text")
    check(s1 != s3, "different seeds gave the same 24-token text")
    print("PASS seed reproducibility")

    # --- stop strings ---
    full = client.completions.create(model=model_id, prompt="Stop here", max_tokens=40,
                                     temperature=0, extra_body={"ignore_eos": True})
    full_text = full.choices[0].text
    stop = None
    for i in range(4, len(full_text) - 2):
        candidate = full_text[i:i + 2]
        if candidate.isascii() and candidate.strip() and "\ufffd" not in candidate:
            stop = candidate
            break
    check(stop is not None, f"no usable stop string in {full_text!r}")
    expected = full_text[:full_text.index(stop)]
    for stops in (stop, [stop, "\u00a7never\u00a7"]):
        cut = client.completions.create(model=model_id, prompt="Stop here", max_tokens=40,
                                        temperature=0, stop=stops,
                                        extra_body={"ignore_eos": True})
        check(cut.choices[0].text == expected and cut.choices[0].finish_reason == "stop",
              f"stop {stops!r}: {cut.choices[0].text!r} (finish {cut.choices[0].finish_reason}), "
              f"expected {expected!r}")
    streamed = "".join(ch.choices[0].text for ch in client.completions.create(
        model=model_id, prompt="Stop here", max_tokens=40, temperature=0, stop=[stop],
        stream=True, extra_body={"ignore_eos": True}) if ch.choices)
    check(streamed == expected, f"streamed stop: {streamed!r} != {expected!r}")
    print("PASS stop strings")

    # --- usage ---
    u = client.chat.completions.create(model=model_id, messages=messages, max_tokens=5,
                                       temperature=0, extra_body={"ignore_eos": True})
    check(u.usage.completion_tokens == 5 and u.usage.prompt_tokens > 5 and
          u.usage.total_tokens == u.usage.prompt_tokens + 5 and
          u.usage.prompt_tokens_details.cached_tokens == 0, f"usage {u.usage}")
    print("PASS usage")

    # --- sessions ---
    def chat(msgs, session=None, max_tokens=8):
        extra = {"ignore_eos": True}
        if session:
            extra["session_id"] = session
        return client.chat.completions.create(model=model_id, messages=msgs,
                                              max_tokens=max_tokens, temperature=0,
                                              extra_body=extra)
    turn1 = [{"role": "system", "content": "You are terse."},
             {"role": "user", "content": "Name a color."}]
    a1 = chat(turn1, "s1")
    check(a1.usage.prompt_tokens_details.cached_tokens == 0, "first turn cached tokens")
    check(a1.choices[0].message.content == chat(turn1).choices[0].message.content,
          "session turn 1 differs from no session")
    turn2 = turn1 + [{"role": "assistant", "content": a1.choices[0].message.content},
                     {"role": "user", "content": "Another one."}]
    a2 = chat(turn2, "s1")
    cached = a2.usage.prompt_tokens_details.cached_tokens
    check(cached > 0, f"second turn: cached_tokens {cached}")
    check(cached < a2.usage.prompt_tokens, "cached all of the prompt")
    plain2 = chat(turn2)
    check(plain2.usage.prompt_tokens_details.cached_tokens == 0, "no-session cached tokens")
    check(a2.choices[0].message.content == plain2.choices[0].message.content,
          f"session answer {a2.choices[0].message.content!r} != "
          f"{plain2.choices[0].message.content!r}")
    # Metadata form of the session id.
    m = client.chat.completions.create(model=model_id, messages=turn1, max_tokens=4,
                                       temperature=0, metadata={"session_id": "s-meta"})
    status, body = http_request(base, "GET", "/v1/sessions/s-meta", key=API_KEY)
    check(status == 200 and body["tokens"] > 0, f"metadata session: {status} {body}")
    print("PASS sessions")

    # --- divergence: an edited last turn restores a checkpoint ---
    turn3 = turn1 + [{"role": "assistant", "content": a1.choices[0].message.content},
                     {"role": "user", "content": "Something else entirely."}]
    status, d = http_request(base, "POST", "/v1/chat/completions", key=API_KEY, body={
        "model": model_id, "messages": turn3, "max_tokens": 8, "temperature": 0,
        "ignore_eos": True, "session_id": "s1"})
    check(status == 200, f"divergent turn: {status} {d}")
    plain3 = chat(turn3)
    check(d["session_reuse"] == "checkpoint", f"reuse {d.get('session_reuse')}")
    check(d["usage"]["prompt_tokens_details"]["cached_tokens"] > 0, f"divergent cached {d}")
    check(d["choices"][0]["message"]["content"] == plain3.choices[0].message.content,
          "divergent answer differs from no session")
    # A completely different conversation in the same session: re-prefill from scratch.
    other = [{"role": "user", "content": "Completely new topic."}]
    status, d = http_request(base, "POST", "/v1/chat/completions", key=API_KEY, body={
        "model": model_id, "messages": other, "max_tokens": 8, "temperature": 0,
        "ignore_eos": True, "session_id": "s1"})
    check(status == 200 and d["choices"][0]["message"]["content"] ==
          chat(other).choices[0].message.content, "fresh conversation in a session differs")
    # Regenerating the same turn (same prompt as the session's last one).
    status, d2 = http_request(base, "POST", "/v1/chat/completions", key=API_KEY, body={
        "model": model_id, "messages": other, "max_tokens": 8, "temperature": 0,
        "ignore_eos": True, "session_id": "s1"})
    check(status == 200 and d2["choices"][0]["message"]["content"] ==
          d["choices"][0]["message"]["content"] and
          d2["usage"]["prompt_tokens_details"]["cached_tokens"] > 0, f"regenerate: {d2}")
    print("PASS divergence")

    # --- session endpoints ---
    status, body = http_request(base, "GET", "/v1/sessions", key=API_KEY)
    ids = {s["id"] for s in body["data"]}
    check(status == 200 and {"s1", "s-meta"} <= ids, f"list: {body}")
    for s in body["data"]:
        for field in ("id", "tokens", "created", "last_used"):
            check(field in s, f"session lacks {field}: {s}")
    status, body = http_request(base, "GET", "/v1/sessions/s1", key=API_KEY)
    check(status == 200 and body["id"] == "s1" and body["tokens"] > 0, f"get: {body}")
    status, body = http_request(base, "DELETE", "/v1/sessions/s-meta", key=API_KEY)
    check(status == 200 and body.get("deleted") is True, f"delete: {status} {body}")
    status, body = http_request(base, "GET", "/v1/sessions/s-meta", key=API_KEY)
    check_error(status, body, 404, "deleted session")
    status, body = http_request(base, "DELETE", "/v1/sessions/nope", key=API_KEY)
    check_error(status, body, 404, "delete unknown session")
    print("PASS session endpoints")

    # --- snapshots ---
    conv = [{"role": "user", "content": "Remember the number seven."}]
    first = chat(conv, "snap-src", max_tokens=6)
    status, body = http_request(base, "POST", "/v1/sessions/snap-src/snapshot", key=API_KEY,
                                body={"name": "snap1"})
    check(status == 200 and os.path.isfile(os.path.join(snapdir, "snap1.slsnap")),
          f"snapshot: {status} {body}")
    check(not [f for f in os.listdir(snapdir) if ".tmp" in f], "temporary file left behind")
    follow = conv + [{"role": "assistant", "content": first.choices[0].message.content},
                     {"role": "user", "content": "Which number?"}]
    expected = chat(follow, "snap-src")
    status, body = http_request(base, "POST", "/v1/sessions/snap-dst/restore", key=API_KEY,
                                body={"name": "snap1"})
    check(status == 200 and body["tokens"] > 0, f"restore: {status} {body}")
    restored = chat(follow, "snap-dst")
    check(restored.usage.prompt_tokens_details.cached_tokens > 0, "restored session cached")
    check(restored.choices[0].message.content == expected.choices[0].message.content,
          "restored session continues differently")
    status, body = http_request(base, "POST", "/v1/snapshots/snap1/load", key=API_KEY,
                                body={"session_id": "snap-dst2"})
    check(status == 200 and body["id"] == "snap-dst2", f"load alias: {status} {body}")
    restored2 = chat(follow, "snap-dst2")
    check(restored2.choices[0].message.content == expected.choices[0].message.content,
          "restored (alias) session continues differently")
    status, body = http_request(base, "POST", "/v1/sessions/snap-dst/restore", key=API_KEY,
                                body={"name": "missing"})
    check_error(status, body, 404, "unknown snapshot")
    status, body = http_request(base, "POST", "/v1/sessions/nope/snapshot", key=API_KEY,
                                body={"name": "x"})
    check_error(status, body, 404, "snapshot of an unknown session")
    status, body = http_request(base, "POST", "/v1/sessions/snap-src/snapshot", key=API_KEY,
                                body={"name": "../evil"})
    check_error(status, body, 400, "bad snapshot name")
    print("PASS snapshots")

    # --- a snapshot of another model (wrong fingerprint at bytes 8..16) is refused ---
    with open(os.path.join(snapdir, "snap1.slsnap"), "rb") as f:
        data = bytearray(f.read())
    data[8:16] = bytes(b ^ 0x5A for b in data[8:16])
    with open(os.path.join(snapdir, "foreign.slsnap"), "wb") as f:
        f.write(data)
    status, body = http_request(base, "POST", "/v1/sessions/snap-f/restore", key=API_KEY,
                                body={"name": "foreign"})
    check_error(status, body, 409, "foreign snapshot")
    check("another model" in body["error"]["message"], f"message: {body}")
    status, body = http_request(base, "GET", "/v1/sessions/snap-f", key=API_KEY)
    check_error(status, body, 404, "no session created by a refused restore")
    # A corrupted body (right fingerprint) is refused too.
    good = bytearray(open(os.path.join(snapdir, "snap1.slsnap"), "rb").read())
    good[len(good) // 2] ^= 0xFF
    open(os.path.join(snapdir, "corrupt.slsnap"), "wb").write(good)
    status, body = http_request(base, "POST", "/v1/sessions/snap-c/restore", key=API_KEY,
                                body={"name": "corrupt"})
    check_error(status, body, 400, "corrupted snapshot")
    print("PASS foreign snapshot refused")

    # --- bad input ---
    chat_path, cmpl_path = "/v1/chat/completions", "/v1/completions"
    ok_msgs = [{"role": "user", "content": "hi"}]
    cases = [
        ("malformed JSON", chat_path, None, b"{not json", 400),
        ("body not an object", chat_path, [1, 2], None, 400),
        ("messages not a list", chat_path, {"model": model_id, "messages": "hi"}, None, 400),
        ("empty messages", chat_path, {"model": model_id, "messages": []}, None, 400),
        ("message without role", chat_path, {"model": model_id, "messages": [{"content": "x"}]},
         None, 400),
        ("content wrong type", chat_path,
         {"model": model_id, "messages": [{"role": "user", "content": 5}]}, None, 400),
        ("unknown role", chat_path,
         {"model": model_id, "messages": [{"role": "wizard", "content": "x"}]}, None, 400),
        ("unknown model", chat_path, {"model": "gpt-17", "messages": ok_msgs}, None, 404),
        ("model wrong type", chat_path, {"model": 3, "messages": ok_msgs}, None, 400),
        ("negative max_tokens", chat_path,
         {"model": model_id, "messages": ok_msgs, "max_tokens": -1}, None, 400),
        ("zero max_tokens", chat_path,
         {"model": model_id, "messages": ok_msgs, "max_tokens": 0}, None, 400),
        ("huge max_tokens", chat_path,
         {"model": model_id, "messages": ok_msgs, "max_tokens": 10 ** 12}, None, 400),
        ("max_tokens string", chat_path,
         {"model": model_id, "messages": ok_msgs, "max_tokens": "5"}, None, 400),
        ("temperature too high", chat_path,
         {"model": model_id, "messages": ok_msgs, "temperature": 5}, None, 400),
        ("temperature negative", chat_path,
         {"model": model_id, "messages": ok_msgs, "temperature": -0.5}, None, 400),
        ("top_p zero", chat_path, {"model": model_id, "messages": ok_msgs, "top_p": 0}, None, 400),
        ("top_p above one", chat_path,
         {"model": model_id, "messages": ok_msgs, "top_p": 1.5}, None, 400),
        ("stream not bool", chat_path,
         {"model": model_id, "messages": ok_msgs, "stream": "yes"}, None, 400),
        ("stop wrong type", chat_path, {"model": model_id, "messages": ok_msgs, "stop": 7},
         None, 400),
        ("seed wrong type", chat_path, {"model": model_id, "messages": ok_msgs, "seed": "x"},
         None, 400),
        ("n = 2", chat_path, {"model": model_id, "messages": ok_msgs, "n": 2}, None, 400),
        ("bad session id", chat_path,
         {"model": model_id, "messages": ok_msgs, "session_id": "a/b"}, None, 400),
        ("prompt too long", cmpl_path, {"model": model_id, "prompt": "word " * 2000}, None, 400),
        ("prompt missing", cmpl_path, {"model": model_id}, None, 400),
        ("prompt empty", cmpl_path, {"model": model_id, "prompt": ""}, None, 400),
        ("prompt token out of range", cmpl_path, {"model": model_id, "prompt": [1, 99999]},
         None, 400),
        ("unknown session", "/v1/sessions/unknown-session", None, None, 404),
        ("unknown route", "/v1/nothing", {}, None, 404),
    ]
    for what, path, body, raw, expected_status in cases:
        method = "GET" if path.startswith("/v1/sessions/") else "POST"
        status, resp = http_request(base, method, path, body=body, raw=raw, key=API_KEY)
        check_error(status, resp, expected_status, what)
    status, resp = http_request(base, "POST", cmpl_path,
                                body={"model": model_id, "prompt": "word " * 2000}, key=API_KEY)
    check(resp["error"]["code"] == "context_length_exceeded", f"code: {resp}")
    try:
        client.chat.completions.create(model=model_id, messages=[], max_tokens=3)
        raise AssertionError("empty messages accepted by the openai client path")
    except openai.BadRequestError:
        pass
    status, body = http_request(base, "GET", "/health")
    check(status == 200, "unhealthy after bad input")
    r3 = client.chat.completions.create(model=model_id, messages=messages, max_tokens=12,
                                        temperature=0)
    check(r3.choices[0].message.content == greedy_chat.choices[0].message.content,
          "answers changed after bad input")
    print("PASS bad input")

    # --- metrics ---
    status, text = http_request(base, "GET", "/metrics", key=API_KEY)
    check(status == 200 and isinstance(text, str), f"metrics: {status}")
    for needle in ('sl_requests_total{endpoint="/v1/chat/completions",status="200"}',
                   'sl_requests_total{endpoint="/v1/chat/completions",status="400"}',
                   "sl_prompt_tokens_total", "sl_generated_tokens_total", "sl_queue_depth",
                   "sl_prefill_tokens_per_second", "sl_decode_tokens_per_second"):
        check(needle in text, f"metrics lack {needle}")
    generated = [l for l in text.splitlines() if l.startswith("sl_generated_tokens_total ")]
    check(generated and int(generated[0].split()[1]) > 100, f"generated tokens: {generated}")
    print("PASS metrics")


def test_queue_full(server, model_id):
    base = server.base
    body = {"model": model_id, "prompt": "busy", "max_tokens": 600, "temperature": 0,
            "ignore_eos": True}
    results = []

    def send():
        results.append(http_request(base, "POST", "/v1/completions", body=body, timeout=120))
    threads = [threading.Thread(target=send) for _ in range(5)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    statuses = sorted(s for s, _ in results)
    check(statuses.count(200) >= 2, f"queue statuses {statuses}")
    rejected = [(s, b) for s, b in results if s == 429]
    check(rejected, f"no 429 with --max-queue 1: {statuses}")
    for s, b in rejected:
        check_error(s, b, 429, "queue full")
    check(http_request(base, "GET", "/health")[0] == 200, "health after 429")
    print("PASS queue full")


def test_disconnect(server, model_id):
    """A client that goes away mid-stream stops its generation."""
    base = server.base
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", "/v1/completions",
                 json.dumps({"model": model_id, "prompt": "long", "max_tokens": 3000,
                             "temperature": 0, "stream": True, "ignore_eos": True}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.fp.readline()
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        _, text = http_request(base, "GET", "/metrics")
        line = [l for l in text.splitlines() if l.startswith("sl_cancelled_generations_total ")]
        if line and int(line[0].split()[1]) >= 1:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the generation was not cancelled after the client left")
    # The executor is free again: a short request answers promptly.
    start = time.time()
    status, _ = http_request(base, "POST", "/v1/completions",
                             body={"model": model_id, "prompt": "x", "max_tokens": 2})
    check(status == 200 and time.time() - start < 10, "server busy after a disconnect")
    print("PASS disconnect")


def test_load(server, model_id, key):
    """200 requests from 8 concurrent clients; answers checked; /health polled throughout."""
    base = server.base
    client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=120)
    prompts = [f"Request number {i % 10}" for i in range(200)]
    reference = {}
    for p in sorted(set(prompts)):
        reference[p] = client.completions.create(
            model=model_id, prompt=p, max_tokens=4, temperature=0,
            extra_body={"ignore_eos": True}).choices[0].text
    stop = threading.Event()
    health = {"ok": 0, "bad": 0}

    def poll():
        while not stop.is_set():
            status, _ = http_request(base, "GET", "/health", timeout=10)
            health["ok" if status == 200 else "bad"] += 1
            time.sleep(0.02)
    poller = threading.Thread(target=poll)
    poller.start()
    start = time.time()
    try:
        def one(i):
            p = prompts[i]
            if i % 2:
                text = "".join(ch.choices[0].text for ch in client.completions.create(
                    model=model_id, prompt=p, max_tokens=4, temperature=0, stream=True,
                    extra_body={"ignore_eos": True}) if ch.choices)
            else:
                text = client.completions.create(model=model_id, prompt=p, max_tokens=4,
                                                 temperature=0,
                                                 extra_body={"ignore_eos": True}).choices[0].text
            return text == reference[p]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            # Retry on 429 (the queue holds 16), as a client would.
            def with_retry(i):
                for _ in range(2000):
                    try:
                        return one(i)
                    except openai.RateLimitError:
                        time.sleep(0.005)
                raise AssertionError("never admitted")
            results = list(pool.map(with_retry, range(200)))
    finally:
        stop.set()
        poller.join()
    elapsed = time.time() - start
    check(all(results), f"{results.count(False)} of 200 answers differ")
    check(health["bad"] == 0 and health["ok"] > 0, f"health during load: {health}")
    check(elapsed < 120, f"load test took {elapsed:.1f} s")
    print("PASS load test")


def test_shutdown(server):
    server.proc.terminate()
    rc = server.proc.wait(timeout=15)
    check(rc == 0, f"server exit code after SIGTERM: {rc}")
    print("PASS shutdown")


if __name__ == "__main__":
    main()
