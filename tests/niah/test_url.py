#!/usr/bin/env python3
"""slrun niah --url against `slrun serve` started here on the same model (tests/niah/url.test).

The same grid in this process and through the server gives the same prompts (lengths counted with
--tokenizer) and the same greedy replies; one session per length is used and deleted afterwards;
the client's errors: a missing or wrong API key (the server's 401 message), an unknown model
(404), a server answering malformed JSON or a 500 with a text body, a refused connection.
Prints "PASS <what>"; any failure raises. Every server is stopped in a `finally`."""
import argparse
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_niah  # noqa: E402

KEY = "niah-test-key"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def trials(path):
    return [l for l in check_niah.read_lines(path) if l["kind"] == "trial"]


class Canned(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the status and body of the class attributes."""
    status, body = 200, b"not json"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--slrun", "--artifact", "--model-dir", "--task", "--work"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    grid = ["--task", args.task, "--lengths=300,600", "--depths=3", "--trials=2"]
    model_id = os.path.basename(args.artifact)

    def niah(extra, output=None):
        cmd = [args.slrun, "niah"] + grid + extra
        if output:
            if os.path.exists(output):
                os.remove(output)
            cmd.append("--output=" + output)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600)

    local = os.path.join(args.work, "local.jsonl")
    run = niah(["--artifact", args.artifact, "--weights", args.model_dir], local)
    check(run.returncode == 0, f"in-process run: {run.stderr}")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(args.work, "serve.log"), "w")
    server = subprocess.Popen([args.slrun, "serve", "--artifact", args.artifact, "--weights",
                               args.model_dir, "--port", str(port), "--api-key", KEY,
                               "--max-context", "1024", "--chunk", "48"],
                              stdout=log, stderr=subprocess.STDOUT)
    canned = None
    try:
        deadline = time.time() + 60
        while True:
            check(server.poll() is None and time.time() < deadline, "the server did not start")
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)

        remote = os.path.join(args.work, "url.jsonl")
        url = ["--url", base, "--model", model_id, "--tokenizer", args.model_dir]
        run = niah(url + ["--api-key", KEY], remote)
        check(run.returncode == 0, f"--url run: {run.stderr}")
        check("warning" not in run.stderr, f"the server counted other prompt tokens: {run.stderr}")
        a, b = trials(local), trials(remote)
        check(len(a) == len(b) == 12, f"{len(a)} and {len(b)} trials")
        for x, y in zip(a, b):
            for field in ("length", "prompt_tokens", "depth", "trial", "key", "value", "reply",
                          "correct"):
                check(x[field] == y[field], f"{field}: {x[field]!r} in process, {y[field]!r} "
                                            f"through the server (length {x['length']}, depth "
                                            f"{x['depth']}, trial {x['trial']})")
        print("PASS same prompts and replies through the server")
        cells = [l for l in check_niah.read_lines(remote) if l["kind"] == "cell"]
        check(all(c["url"] == base and c["model"] == model_id and "device" not in c
                  for c in cells), f"cell lines: {cells[0]}")
        # The server prefilled every prompt whole (its checkpoints are at turn boundaries, not
        # at the needles) and said so in its usage.
        check(all(t["prefill_tokens"] == t["prompt_tokens"] for t in b), "usage")
        with urllib.request.urlopen(urllib.request.Request(
                base + "/v1/sessions", headers={"Authorization": "Bearer " + KEY})) as r:
            sessions = json.loads(r.read())
        check(sessions.get("data") == [], f"sessions left on the server: {sessions}")
        with urllib.request.urlopen(urllib.request.Request(
                base + "/metrics", headers={"Authorization": "Bearer " + KEY})) as r:
            metrics = r.read().decode()
        check('sl_requests_total{endpoint="/v1/sessions/{id}",status="200"} 2' in metrics,
              "the two sessions (one per length) were not deleted:\n" +
              "\n".join(l for l in metrics.splitlines() if "sessions" in l))
        print("PASS one session per length, deleted after it")

        run = niah(url)
        check(run.returncode == 1 and "the server answered HTTP 401" in run.stderr,
              f"no API key: {run.returncode} {run.stderr}")
        run = niah(["--url", base, "--model", "other", "--tokenizer", args.model_dir,
                    "--api-key", KEY])
        check(run.returncode == 1 and "the server answered HTTP 404" in run.stderr and
              "other" in run.stderr, f"unknown model: {run.stderr}")
        print("PASS the server's errors")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    canned = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    thread = threading.Thread(target=canned.serve_forever, daemon=True)
    thread.start()
    try:
        fake = ["--url", f"http://127.0.0.1:{canned.server_address[1]}", "--model", "m",
                "--tokenizer", args.model_dir]
        run = niah(fake)
        check(run.returncode == 1 and "malformed JSON in the answer" in run.stderr,
              f"malformed JSON: {run.stderr}")
        Canned.status, Canned.body = 500, b"backend exploded"
        run = niah(fake)
        check(run.returncode == 1 and "HTTP 500: backend exploded" in run.stderr,
              f"500: {run.stderr}")
        Canned.status, Canned.body = 200, b'{"choices": []}'
        run = niah(fake)
        check(run.returncode == 1 and "the answer has no choices[0].message" in run.stderr,
              f"no choices: {run.stderr}")
    finally:
        canned.shutdown()
        canned.server_close()
    refused = free_port()
    run = niah(["--url", f"http://127.0.0.1:{refused}", "--model", "m", "--tokenizer",
                args.model_dir])
    check(run.returncode == 1 and "Connection refused" in run.stderr, f"refused: {run.stderr}")
    print("PASS client errors")


if __name__ == "__main__":
    main()
