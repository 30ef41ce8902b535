"""A real Hub-compatible HTTP server on 127.0.0.1 for the Hub tests: olah, serving local git repositories.

olah (a self-hosted Hub mirror, PyPI ``olah``) serves every git repository under its ``mirrors-path``
as ``<repo_type>/<org>/<name>`` through the Hub's HTTP API (``/api/<type>s/<id>/revision/<rev>``,
``/<type>s/<id>/resolve/<rev>/<file>``), with ``offline = true`` so it never asks huggingface.co.
It needs huggingface_hub >= 1 while transformers < 5 (our jina extras) needs < 1, so it runs from its
own environment: ``$JINAVDR_OLAH`` (path of ``olah-cli``), ``.venv-hub/bin/olah-cli`` (made by
scripts/test.sh) or ``olah-cli`` on PATH.

Known limits of olah found here: the revision-less route ``/api/datasets/<id>`` answers 401 (clients
must name ``main``), an unknown revision answers 500 (the Hub: 404), an unknown repository at a commit
404 EntryNotFound (the Hub: 401 RepositoryNotFound), and it has no gated repositories
(:class:`GatedServer` is a minimal real HTTP server that answers like the Hub does for those), and
it ignores ``Range`` for files of local repositories (answers 200 with the whole file, so a client
restarts instead of resuming; :class:`RangeServer` serves the resume test).
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.name=jinavdr-tests", "-c", "user.email=tests@jinavdr.invalid",
       "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


def olah_cli() -> str | None:
    for candidate in (os.environ.get("JINAVDR_OLAH"), str(REPO / ".venv-hub" / "bin" / "olah-cli"),
                      shutil.which("olah-cli")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run([*GIT, "init", "-q", str(path)], check=True)
    return path


def commit(repo: Path, files: dict[str, Path | bytes], message: str, *, replace: bool = False) -> str:
    """Write ``files`` (repo path -> source file/folder or bytes) into ``repo``, commit, return the sha."""
    if replace:
        for child in repo.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    for rel, src in files.items():
        dst = repo / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, bytes):
            dst.write_bytes(src)
        elif src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy(src, dst)
    subprocess.run([*GIT, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(repo), "commit", "-q", "-m", message], check=True)
    return subprocess.run([*GIT, "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


class OlahServer:
    """``olah-cli`` as a subprocess on a free port, serving ``root/mirrors``; stopped by :meth:`stop`."""

    def __init__(self, cli: str, root: Path) -> None:
        self.root = root
        self.mirrors = root / "mirrors"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (root / "repos").mkdir(parents=True, exist_ok=True)
        self.mirrors.mkdir(parents=True, exist_ok=True)
        config = root / "olah.toml"
        config.write_text(
            f'[basic]\nhost = "127.0.0.1"\nport = {self.port}\nrepos-path = "{root / "repos"}"\n'
            f'mirrors-path = ["{self.mirrors}"]\nmetadata-cache-ttl = 0\n\n[accessibility]\noffline = true\n',
            encoding="utf-8",
        )
        self.log = root / "olah.log"
        self._log = self.log.open("w")
        self.proc = subprocess.Popen([cli, "-c", str(config)], cwd=root, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"olah exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)  # noqa: S310 - loopback only
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"olah did not answer on {self.url} within {timeout} s")

    def repo(self, repo_type: str, repo_id: str) -> Path:
        return git_repo(self.mirrors / f"{repo_type}s" / repo_id)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


class _GatedHandler(http.server.BaseHTTPRequestHandler):
    def _gated(self) -> None:
        body = b'{"error":"Access to dataset test/gated is restricted. You must have access to it."}'
        self.send_response(403)
        self.send_header("X-Error-Code", "GatedRepo")
        self.send_header("X-Error-Message", "Access to dataset test/gated is restricted.")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _gated  # noqa: N815 - http.server's naming

    def log_message(self, *args: object) -> None:
        pass


class GatedServer:
    """A real HTTP server on 127.0.0.1 that answers every request the way the Hub answers for a gated
    repository without access (403, ``X-Error-Code: GatedRepo``): olah cannot serve gated repos."""

    def __init__(self) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GatedHandler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    commit = "0" * 40
    served: list[tuple[str, int]] = []  # (Range header or "", status)

    def _serve(self) -> None:
        path = self.path.split("/resolve/", 1)[-1].split("/", 1)[-1]
        data = self.files.get(path)
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.end_headers()
            return
        start = 0
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes=") and self.command == "GET":
            start = int(wanted[6:].split("-")[0])
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", self.commit)
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if self.command == "GET":
            self.served.append((wanted, 206 if start else 200))
            self.wfile.write(body)

    do_GET = do_HEAD = _serve  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


class RangeServer:
    """A minimal real HTTP server that serves files at ``/<repo>/resolve/<rev>/<path>`` with the Hub's
    download headers and honours ``Range`` (olah ignores Range for files of local repositories, so the
    resume test needs this)."""

    def __init__(self, files: dict[str, bytes], commit_sha: str) -> None:
        handler = type("Handler", (_RangeHandler,), {"files": files, "commit": commit_sha, "served": []})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.served = handler.served
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
