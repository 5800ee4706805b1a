#!/usr/bin/env python3
"""`slrun serve --device=cuda` against `slrun serve --device=cpu` on the same model: greedy chat
answers, a session extended over turns (prefix reuse), a turn that diverges (checkpoint restore
of the Mamba states), and a snapshot saved and restored into a new session must give the same
tokens on both backends. Run by tools/gpu_e2e_check.sh on a GPU machine.

  serve_check.py SLRUN ARTIFACT WEIGHTS WORKDIR
"""
import json
import os
import subprocess
import sys
import time
import urllib.request


def start(slrun, artifact, weights, device, port, workdir):
    log = open(os.path.join(workdir, f"serve-{device}.log"), "w")
    process = subprocess.Popen(
        [slrun, "serve", "--artifact", artifact, "--weights", weights, "--device", device,
         "--port", str(port), "--max-context", "1024",
         "--snapshot-dir", os.path.join(workdir, f"snapshots-{device}")],
        stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as reply:
                if reply.status == 200:
                    return process
        except Exception:
            pass
        if process.poll() is not None:
            sys.exit(f"serve_check: the {device} server stopped:\n" +
                     open(os.path.join(workdir, f"serve-{device}.log")).read())
        time.sleep(0.1)
    process.kill()
    sys.exit(f"serve_check: the {device} server did not become ready")


def post(port, path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as reply:
        return json.loads(reply.read())


def chat(port, messages, session=None):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10) as reply:
        model = json.loads(reply.read())["data"][0]["id"]
    body = {"model": model, "messages": messages, "max_tokens": 24, "temperature": 0}
    if session:
        body["session_id"] = session
    reply = post(port, "/v1/chat/completions", body)
    return (reply["choices"][0]["message"]["content"], reply["usage"].get(
        "prompt_tokens_details", {}).get("cached_tokens", 0), reply.get("session_reuse"))


def scenario(port):
    """The same conversation on one server; returns what must agree across backends."""
    out = []
    first = [{"role": "user", "content": "Tell me about long contexts."}]
    out.append(chat(port, first))
    a1 = chat(port, first, "s")
    turn2 = first + [{"role": "assistant", "content": a1[0]},
                     {"role": "user", "content": "And about anchors?"}]
    a2 = chat(port, turn2, "s")                      # extends the session
    diverged = first + [{"role": "assistant", "content": a1[0]},
                        {"role": "user", "content": "What about spans instead?"}]
    a3 = chat(port, diverged, "s")                   # back to the turn boundary checkpoint
    post(port, "/v1/sessions/s/snapshot", {"name": "snap"})
    post(port, "/v1/sessions/t/restore", {"name": "snap"})
    turn3 = diverged + [{"role": "assistant", "content": a3[0]},
                        {"role": "user", "content": "Thanks."}]
    a4 = chat(port, turn3, "t")                      # continues the restored snapshot
    out += [a1, a2, a3, a4]
    return out


def main():
    slrun, artifact, weights, workdir = sys.argv[1:5]
    results = {}
    for device, port in (("cpu", 18731), ("cuda", 18732)):
        process = start(slrun, artifact, weights, device, port, workdir)
        try:
            results[device] = scenario(port)
        finally:
            process.terminate()
            process.wait(timeout=30)
    cpu, gpu = results["cpu"], results["cuda"]
    names = ["no session", "session turn 1", "turn 2", "diverged turn (checkpoint)",
             "restored snapshot, next turn"]
    failed = 0
    for name, c, g in zip(names, cpu, gpu):
        same = c == g
        failed += not same
        print(f"{'PASS' if same else 'FAIL'} serve {name}: cuda (cached {g[1]}, {g[2]}) {g[0]!r:.40}"
              + ("" if same else f" != cpu (cached {c[1]}, {c[2]}) {c[0]!r:.40}"))
    # Later turns reuse the session's state (its history, or the checkpoint at the last turn
    # boundary when the re-tokenised answer differs from the generated tokens); the diverged
    # turn can only come from the checkpoint.
    reuse = [g[2] for g in gpu[1:]]
    if any(r not in ("extend", "checkpoint") for r in reuse[1:]) or reuse[2] != "checkpoint":
        print(f"FAIL serve session reuse on cuda: {reuse}")
        failed += 1
    print(f"serve_check: {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
