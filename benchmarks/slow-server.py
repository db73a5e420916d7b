#!/usr/bin/env python3
"""A local HTTP server that answers every GET after DELAY seconds (default 0.3)."""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.3

    def do_GET(self):
        time.sleep(self.delay)
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 4096
    daemon_threads = True


if __name__ == "__main__":
    port = int(sys.argv[1])
    Slow.delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
    Server(("127.0.0.1", port), Slow).serve_forever()
