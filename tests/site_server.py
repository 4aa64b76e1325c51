"""Serve a built site on 127.0.0.1 under its project path, the way GitHub Pages does.

`/attention-lab/...` maps to the site directory, a directory without its trailing
slash redirects to it, and any missing path answers 404 with the site's own
`404.html` (whose links are absolute, below the project path).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO, ClassVar
from urllib.parse import urlsplit


class _ProjectPathHandler(SimpleHTTPRequestHandler):
    """Static files of `directory`, served below `prefix` (e.g. `/attention-lab/`)."""

    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map, ".woff2": "font/woff2", ".svg": "image/svg+xml",
    }

    def __init__(self, *args, prefix: str, **kwargs) -> None:
        self.prefix = prefix
        super().__init__(*args, **kwargs)

    def send_head(self) -> BinaryIO | None:
        if not (urlsplit(self.path).path + "/").startswith(self.prefix):
            self.send_error(HTTPStatus.NOT_FOUND)  # outside the project path
            return None
        return super().send_head()

    def translate_path(self, path: str) -> str:
        """`/attention-lab/x` -> `<directory>/x` (`/attention-lab` redirects to `/attention-lab/`)."""
        return super().translate_path("/" + urlsplit(path).path[len(self.prefix) :])

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        not_found = Path(self.directory) / "404.html"
        if code != HTTPStatus.NOT_FOUND or not not_found.is_file() or self.command != "GET":
            super().send_error(code, message, explain)
            return
        body = not_found.read_bytes()
        self.send_response(HTTPStatus.NOT_FOUND)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the browser test records every request itself."""


@contextmanager
def serve(directory: Path, prefix: str) -> Iterator[str]:
    """Serve `directory` below `prefix` on a free port of 127.0.0.1; yield the site's base URL."""
    handler = partial(_ProjectPathHandler, directory=str(directory), prefix=prefix)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
