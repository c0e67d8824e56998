"""A local stand-in for the Hugging Face Hub, for tests: serves repositories from directories on
127.0.0.1 with the API huggingface_hub uses (repo info, tree listing, resolve with HEAD metadata and
Range requests), so mf's download path runs unchanged against it through HF_ENDPOINT.

    with HubServer({"acme/tiny-gpt2": Path("fixtures/tiny-gpt2")}) as hub:
        env = {"HF_ENDPOINT": hub.url}
        hub.cut_once.add("model.safetensors")     # drop the connection half-way through, once
"""
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".bin", ".model")
CUT_AT = 15 * 1024 * 1024


class _Repo:
    def __init__(self, repo_id, directory):
        self.repo_id = repo_id
        self.commit = hashlib.sha1(repo_id.encode()).hexdigest()
        self.files = {p.relative_to(directory).as_posix(): p.read_bytes()
                      for p in sorted(Path(directory).rglob("*")) if p.is_file()}

    def entry(self, name):
        data = self.files[name]
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        entry = {"type": "file", "path": name, "size": len(data), "oid": blob}
        if name.endswith(LFS_SUFFIXES):
            entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return entry

    def etag(self, name):
        entry = self.entry(name)
        return entry["lfs"]["oid"] if "lfs" in entry else entry["oid"]


class HubServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) serving the given repositories."""

    def __init__(self, repos, gated=None):
        """gated: {repo_id: token} repositories that answer only requests bearing that token."""
        self.repos = {repo_id: _Repo(repo_id, directory) for repo_id, directory in repos.items()}
        self.gated = dict(gated or {})
        self.cut_once = set()     # file names whose first full GET is cut after CUT_AT bytes
        self.requests = []        # (method, path, Range header) of every request
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub._handle(self, head=True)

            def do_GET(self):
                hub._handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # ---- routes -------------------------------------------------------------------------
    def _handle(self, handler, head):
        path = unquote(urlparse(handler.path).path)
        self.requests.append((handler.command, path, handler.headers.get("Range")))
        api = re.match(r"^/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?$", path)
        tree = re.match(r"^/api/models/([^/]+/[^/]+)/tree/([^/]+)", path)
        resolve = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        if tree:
            repo = self._repo(handler, tree.group(1))
            if repo:
                self._json(handler, [repo.entry(name) for name in repo.files], head)
        elif api:
            repo = self._repo(handler, api.group(1))
            if repo:
                self._json(handler, {"id": repo.repo_id, "modelId": repo.repo_id, "sha": repo.commit,
                                     "private": False, "gated": False, "disabled": False,
                                     "siblings": [{"rfilename": name} for name in repo.files]}, head)
        elif resolve:
            repo = self._repo(handler, resolve.group(1))
            if repo:
                self._file(handler, repo, resolve.group(3), head)
        else:
            self._error(handler, 404, "Not found", None)

    def _repo(self, handler, repo_id):
        repo = self.repos.get(repo_id)
        if repo is None:
            self._error(handler, 404, "Repository not found", "RepoNotFound")
        elif repo_id in self.gated and handler.headers.get("Authorization") != f"Bearer {self.gated[repo_id]}":
            self._error(handler, 403, "Access to this model is restricted", "GatedRepo")
            return None
        return repo

    def _file(self, handler, repo, name, head):
        if name not in repo.files:
            self._error(handler, 404, "Entry not found", "EntryNotFound")
            return
        data = repo.files[name]
        start = 0
        match = re.match(r"bytes=(\d+)-", handler.headers.get("Range") or "")
        if match and not head:
            start = int(match.group(1))
        handler.send_response(206 if start else 200)
        handler.send_header("X-Repo-Commit", repo.commit)
        handler.send_header("ETag", f'"{repo.etag(name)}"')
        if "lfs" in repo.entry(name):
            handler.send_header("X-Linked-Etag", f'"{repo.etag(name)}"')
            handler.send_header("X-Linked-Size", str(len(data)))
        handler.send_header("Accept-Ranges", "bytes")
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.send_header("Content-Length", str(len(data) - start))
        handler.end_headers()
        if head:
            return
        if start == 0 and name in self.cut_once:
            self.cut_once.discard(name)
            handler.wfile.write(data[:min(CUT_AT, len(data) // 2)])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(2)  # the client sees a body shorter than Content-Length
            return
        handler.wfile.write(data[start:])

    @staticmethod
    def _json(handler, value, head):
        body = json.dumps(value).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not head:
            handler.wfile.write(body)

    @staticmethod
    def _error(handler, status, message, code):
        body = json.dumps({"error": message}).encode()
        handler.send_response(status)
        if code:
            handler.send_header("X-Error-Code", code)
            handler.send_header("X-Error-Message", message)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
