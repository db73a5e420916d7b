#!/usr/bin/env python3
"""A stand-in for the Northstar profile API that the example tasks call (make run)."""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

START = int(time.time())
PROFILES = [{"id": i, "name": f"User {i}", "email": f"user{i}@example.org", "updated_at": START - 600 + i * 60} for i in range(1, 11)]


class Handler(BaseHTTPRequestHandler):
    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/profiles":
            since = float(query.get("since", ["0"])[0])
            self.send_json(200, {"profiles": [p for p in PROFILES if p["updated_at"] > since]})
        elif url.path.startswith("/profiles/"):
            pid = int(url.path.rsplit("/", 1)[1])
            match = [p for p in PROFILES if p["id"] == pid]
            self.send_json(200, match[0]) if match else self.send_json(404, {"error": "not found"})
        elif url.path == "/reports/signups":
            self.send_json(200, {"day": query.get("day", [""])[0], "count": len(PROFILES)})
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        self.send_json(201, {"ok": True})

    do_PUT = do_POST

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7421
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
