"""Serve a folder on 127.0.0.1 (a free port) with the MIME types a JupyterLite site needs (.mjs, .wasm).

    python tests/docs/serve.py FOLDER      # prints the URL, serves until killed
"""

from __future__ import annotations

import functools
import http.server
import sys
import threading


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json",
                      ".whl": "application/zip", ".ipynb": "application/json"}

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def serve(folder: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start serving ``folder`` in a thread; returns the server (``.shutdown()`` stops it) and its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


if __name__ == "__main__":
    srv, url = serve(sys.argv[1])
    print(url, flush=True)
    threading.Event().wait()
