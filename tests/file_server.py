"""A threaded HTTP server on 127.0.0.1 for the download tests: it serves files the test made, honours
``Range`` (unless told not to), and injects failures: an HTTP status, a connection reset before any
byte, or a body cut off after some bytes."""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class FileServer:
    """``files[path] = bytes`` to serve; ``faults[path] = [500, "reset", ("cut", n), ...]`` are used up
    one per request, in order; ``requests`` lists ``(method, path, Range header)`` as they came."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list] = {}
        self.headers: dict[str, dict[str, str]] = {}  # extra response headers per path
        self.requests: list[tuple[str, str, str | None]] = []
        self.ranges = True
        self.delay = 0.0  # seconds between 64 KiB blocks
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: FileServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            path = urlsplit(self.path).path + (f"?{urlsplit(self.path).query}" if urlsplit(self.path).query else "")
            if path not in server.files:
                path = urlsplit(self.path).path
            server.requests.append((self.command, path, self.headers.get("Range")))
            faults = server.faults.get(path) or []
            fault = faults.pop(0) if faults and body else None
            if fault == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            if isinstance(fault, int):
                self.send_response(fault)
                self.send_header("Content-Length", "0")
                if fault == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                return
            data = server.files.get(path)
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if m and server.ranges:
                start = int(m.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes" if server.ranges else "none")
            for key, value in server.headers.get(path, {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not body:
                return
            end = start + fault[1] if isinstance(fault, tuple) else len(data)
            for i in range(start, end, 1 << 16):
                try:
                    self.wfile.write(data[i : min(end, i + (1 << 16))])
                    self.wfile.flush()
                except OSError:
                    return
                if server.delay:
                    time.sleep(server.delay)
            if isinstance(fault, tuple):  # ("cut", n): stop after n bytes and drop the connection
                self.close_connection = True

    return Handler
