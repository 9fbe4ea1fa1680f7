"""The book's flags test server design (``slow_server.py``), for comparison only.

A ``ThreadingHTTPServer`` whose handler sleeps in its thread (``time.sleep``)
before serving the file with ``SimpleHTTPRequestHandler``.  One change: the
listen queue is raised from socketserver's default of 5 to 4096, otherwise
dropped SYNs and their 1-3-7-15 s retries, not the threads, would be timed.
Usage: ``flags_book_server.py PORT ROOT DELAY``.
"""

from __future__ import annotations

import functools
import sys
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class SlowHandler(SimpleHTTPRequestHandler):
    delay = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the book prints a line per request; stay quiet while timed


class Server(ThreadingHTTPServer):
    request_queue_size = 4096
    daemon_threads = True


def main() -> None:
    port, root, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    SlowHandler.delay = delay
    handler = functools.partial(SlowHandler, directory=root)
    with Server(("127.0.0.1", port), handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
