#!/usr/bin/env python3
"""Reload latency: from a task file's write to the first run of the new version.

Starts `crescent run` with the HTTP API on a temp project, then 20 times: rewrites the task file
with a new version number, and keeps enqueuing probe jobs through POST /api/jobs every 5 ms until
one returns the new version. The latency of an edit is that job's start (the handler's now())
minus the write time. Prints the median and p99.
    benchmarks/reload-latency.py [EDITS=20] [path/to/crescent]
"""
import json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request

edits = int(sys.argv[1]) if len(sys.argv) > 1 else 20
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, ".build/release/crescent")
if not os.path.exists(binary):
    binary = os.path.join(root, ".build/debug/crescent")

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
d = tempfile.mkdtemp()
os.makedirs(f"{d}/tasks")
open(f"{d}/crescent.toml", "w").write(f'database = "r.db"\n[workers]\nthreads = 2\n[http]\nlisten = "127.0.0.1:{port}"\n[log]\nlevel = "error"\n')
def write(v):
    tmp = f"{d}/tasks/.probe.lua.tmp"
    open(tmp, "w").write(f"return {{ handler = function() return {{ v = {v}, t = now() }} end }}\n")
    os.rename(tmp, f"{d}/tasks/probe.lua")   # an editor's atomic save
write(0)
runner = subprocess.Popen([binary, "run", "--config", f"{d}/crescent.toml"])
base = f"http://127.0.0.1:{port}"
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())
try:
    for _ in range(200):
        try:
            call("GET", "/healthz"); break
        except Exception:
            time.sleep(0.05)
    lat = []
    for v in range(1, edits + 1):
        time.sleep(0.3)
        t0 = time.time()
        write(v)
        ids, seen = [], None
        while seen is None and time.time() - t0 < 10:
            ids.append(call("POST", "/api/jobs", {"task": "probe"})["id"])
            time.sleep(0.005)
            for i in ids[-20:]:
                job = call("GET", f"/api/jobs/{i}")
                if job["state"] == "succeeded" and job["result"]["v"] == v:
                    seen = job["result"]["t"]; break
        if seen is None:
            sys.exit(f"edit {v}: the new version never ran")
        lat.append((seen - t0) * 1000)
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))]
    print(f"reload latency over {len(lat)} edits: median {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, min {lat[0]:.0f} ms")
finally:
    runner.terminate(); runner.wait()
    shutil.rmtree(d, ignore_errors=True)
