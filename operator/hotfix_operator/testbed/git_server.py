"""A Git repository served over smart HTTP on 127.0.0.1, as Flux's source-controller clones it.

Debian's ``git http-backend`` does the protocol (it is a CGI program); this is the small web server around
it. ``GitRepo`` writes commits with the git command line, as a person pushing to the repository would.
"""

from __future__ import annotations

import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import yaml

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Bed",
    "GIT_AUTHOR_EMAIL": "bed@hotfix.invalid",
    "GIT_COMMITTER_NAME": "Test Bed",
    "GIT_COMMITTER_EMAIL": "bed@hotfix.invalid",
}


def _git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                            env={**os.environ, **GIT_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"})  # fmt: skip
    return result.stdout.strip()


class _CgiHandler(BaseHTTPRequestHandler):
    root: Path

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: the controllers' own logs say what they fetched

    def _backend(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type") or "",
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding") or "",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol") or "",
        }
        result = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class GitServer:
    """Serves every bare repository under ``root`` at http://127.0.0.1:<port>/<name>.git."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        handler = type("Handler", (_CgiHandler,), {"root": root})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="git-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> GitServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def repository(self, name: str) -> GitRepo:
        return GitRepo(self, name)


class GitRepo:
    """A bare repository on the server and a work tree beside it to commit from."""

    def __init__(self, server: GitServer, name: str) -> None:
        self.bare = server.root / f"{name}.git"
        self.work = server.root / f"{name}-work"
        self.url = f"{server.url}/{name}.git"
        _git("init", "--bare", "--initial-branch=main", str(self.bare), cwd=server.root)
        _git("init", "--initial-branch=main", str(self.work), cwd=server.root)
        _git("remote", "add", "origin", str(self.bare), cwd=self.work)

    def commit(self, files: dict[str, object], message: str) -> str:
        """Write each file (YAML documents from a dict or a list of dicts), commit, push; the new commit's SHA."""
        for relative, content in files.items():
            path = self.work / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            documents = content if isinstance(content, list) else [content]
            path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        _git("add", "-A", cwd=self.work)
        _git("commit", "-q", "-m", message, cwd=self.work)
        _git("push", "-q", "origin", "main", cwd=self.work)
        return _git("rev-parse", "HEAD", cwd=self.work)

    def revert_last(self, message: str) -> str:
        """``git revert HEAD`` and push: what a person does once the operator says which change was bad."""
        _git("revert", "--no-edit", "HEAD", cwd=self.work)
        _git("commit", "-q", "--amend", "-m", message, cwd=self.work)
        _git("push", "-q", "origin", "main", cwd=self.work)
        return _git("rev-parse", "HEAD", cwd=self.work)
