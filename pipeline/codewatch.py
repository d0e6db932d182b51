"""Watching the code and weights a paper points to: which links, and what each one holds.

Plain data in and out, no database: the tracker stores what a check returns and decides
when the next one is due. Requests are polite: conditional (If-None-Match with the stored
ETag, so an unchanged repository costs a 304), spaced per host, bounded by timeouts, and
authenticated to GitHub only when a token is configured.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests

GITHUB_API = "https://api.github.com"
GITLAB_API = "https://gitlab.com/api/v4"
HUGGINGFACE_API = "https://huggingface.co/api"
TIMEOUT_SECONDS = 10.0
USER_AGENT = "paper-tracker-codewatch/1"
# Files a Hugging Face model repository holds when it holds weights.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".onnx", ".h5")
# Files every new repository starts with; a repository holding only these is empty.
PLACEHOLDER_FILES = {".gitattributes", "README.md", "readme.md", "LICENSE", ".gitignore"}


class Kind:
    GITHUB = "github"
    GITLAB = "gitlab"
    HF_MODEL = "hf_model"
    HF_DATASET = "hf_dataset"
    HF_SPACE = "hf_space"
    PAGE = "page"


@dataclass(frozen=True)
class Link:
    url: str
    kind: str
    # owner/name (GitHub, GitLab, Hugging Face); empty for a project page.
    ident: str = ""


_URL = re.compile(r"https?://[^\s<>\"'()\[\]{},;]+", re.IGNORECASE)
# Links that are the paper itself or its references, never its code.
_NOT_CODE_HOSTS = ("arxiv.org", "doi.org", "openreview.net", "aclanthology.org", "dx.doi.org")
_NAME = r"[A-Za-z0-9_.\-]+"


def classify(url: str) -> Link | None:
    """What a URL names: a repository, a Hugging Face model/dataset/space, a project page;
    None for the paper's own links (arXiv, DOI) and what is not a URL."""
    url = url.rstrip(".)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host == "github.com":
        if len(segments) < 2 or not re.fullmatch(_NAME, segments[1]):
            return None
        ident = f"{segments[0]}/{segments[1].removesuffix('.git')}"
        return Link(f"https://github.com/{ident}", Kind.GITHUB, ident)
    if host == "gitlab.com":
        if len(segments) < 2:
            return None
        path = segments[: segments.index("-")] if "-" in segments else segments
        ident = "/".join(path).removesuffix(".git")
        return Link(f"https://gitlab.com/{ident}", Kind.GITLAB, ident)
    if host == "huggingface.co":
        kind = Kind.HF_MODEL
        if segments and segments[0] in ("datasets", "spaces"):
            kind = Kind.HF_DATASET if segments[0] == "datasets" else Kind.HF_SPACE
            segments = segments[1:]
        if len(segments) < 2 or segments[0] in ("papers", "docs", "blog", "api"):
            return None
        ident = f"{segments[0]}/{segments[1]}"
        prefix = {Kind.HF_DATASET: "datasets/", Kind.HF_SPACE: "spaces/"}.get(kind, "")
        return Link(f"https://huggingface.co/{prefix}{ident}", kind, ident)
    if any(host == h or host.endswith("." + h) for h in _NOT_CODE_HOSTS):
        return None
    return Link(url, Kind.PAGE)


def find_links(texts: Iterable[str]) -> list[Link]:
    """The code, weights and project pages named in these texts, each once, in order."""
    found: dict[str, Link] = {}
    for text in texts:
        for match in _URL.finditer(text or ""):
            link = classify(match.group(0))
            if link is not None:
                found.setdefault(link.url.lower().rstrip("/"), link)
    return list(found.values())


@dataclass
class Check:
    """What one check found. `status`: ok, not_modified (nothing changed since the ETag),
    missing (404/410), or error (with `error` saying what, in one line)."""

    status: str
    etag: str = ""
    exists: bool | None = None
    empty: bool | None = None
    has_weights: bool | None = None
    last_push: str = ""
    license: str = ""
    latest_release: str = ""
    stars: int | None = None
    error: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


class HostPacer:
    """One request per host per `interval` seconds: waits before a request that would come
    sooner. Shared by the requests of one run (thread-safe)."""

    def __init__(
        self,
        interval: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, url: str) -> None:
        host = (urlsplit(url).netloc or url).lower()
        with self._lock:
            now = self._clock()
            due = self._last.get(host, -float("inf")) + self.interval
            if now < due:
                self._sleep(due - now)
                now = due
            self._last[host] = now


@dataclass
class Endpoints:
    github: str = GITHUB_API
    gitlab: str = GITLAB_API
    huggingface: str = HUGGINGFACE_API


class Watcher:
    def __init__(
        self,
        *,
        endpoints: Endpoints | None = None,
        github_token: str = "",
        pacer: HostPacer | None = None,
        session: requests.Session | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.endpoints = endpoints or Endpoints()
        self.github_token = github_token
        self.pacer = pacer or HostPacer()
        self.session = session or requests.Session()
        self.timeout = timeout

    def _get(
        self, url: str, etag: str = "", headers: dict[str, str] | None = None
    ) -> requests.Response:
        self.pacer.wait(url)
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        if etag:
            sent["If-None-Match"] = etag
        return self.session.get(url, headers=sent, timeout=self.timeout, allow_redirects=True)

    def check(self, link: Link, etag: str = "") -> Check:
        """Check one link; never raises for what the network or the host does."""
        try:
            if link.kind == Kind.GITHUB:
                return self._github(link, etag)
            if link.kind == Kind.GITLAB:
                return self._gitlab(link, etag)
            if link.kind in (Kind.HF_MODEL, Kind.HF_DATASET, Kind.HF_SPACE):
                return self._huggingface(link, etag)
            return self._page(link, etag)
        except requests.RequestException as exc:
            return Check("error", error=f"{type(exc).__name__}: {str(exc)[:200]}")
        except (ValueError, KeyError, TypeError) as exc:
            return Check("error", error=f"unexpected answer: {str(exc)[:200]}")

    @staticmethod
    def _answered(response: requests.Response, etag: str) -> Check | None:
        """The check for the answers that end it: 304, 404/410, other failures."""
        if response.status_code == 304:
            return Check("not_modified", etag=etag)
        if response.status_code in (404, 410):
            return Check("missing", exists=False)
        if response.status_code >= 400:
            reason = response.reason or ""
            if (
                response.status_code in (403, 429)
                and response.headers.get("X-RateLimit-Remaining") == "0"
            ):
                reason = "rate limit reached"
            return Check("error", error=f"HTTP {response.status_code} {reason}".strip())
        return None

    def _github(self, link: Link, etag: str) -> Check:
        headers = {"Accept": "application/vnd.github+json"}
        if self.github_token:
            headers["Authorization"] = f"Bearer {self.github_token}"
        base = f"{self.endpoints.github.rstrip('/')}/repos/{link.ident}"
        response = self._get(base, etag, headers)
        if (done := self._answered(response, etag)) is not None:
            return done
        repo = response.json()
        # An announced repository with no commits yet reports size 0 and no push after
        # its creation.
        empty = repo.get("size", 0) == 0
        latest = ""
        if not empty:
            releases = self._get(f"{base}/releases?per_page=1", headers=headers)
            if releases.status_code == 200 and releases.json():
                latest = str(releases.json()[0].get("tag_name", ""))
            else:
                tags = self._get(f"{base}/tags?per_page=1", headers=headers)
                if tags.status_code == 200 and tags.json():
                    latest = str(tags.json()[0].get("name", ""))
        license_info = repo.get("license") or {}
        return Check(
            "ok",
            etag=response.headers.get("ETag", ""),
            exists=True,
            empty=empty,
            last_push=str(repo.get("pushed_at") or ""),
            license=str(license_info.get("spdx_id") or ""),
            latest_release=latest,
            stars=int(repo.get("stargazers_count") or 0),
        )

    def _gitlab(self, link: Link, etag: str) -> Check:
        url = (
            f"{self.endpoints.gitlab.rstrip('/')}/projects/{quote(link.ident, safe='')}"
            "?license=true"
        )
        response = self._get(url, etag)
        if (done := self._answered(response, etag)) is not None:
            return done
        project = response.json()
        license_info = project.get("license") or {}
        return Check(
            "ok",
            etag=response.headers.get("ETag", ""),
            exists=True,
            empty=bool(project.get("empty_repo")),
            last_push=str(project.get("last_activity_at") or ""),
            license=str(license_info.get("key") or ""),
            stars=int(project.get("star_count") or 0),
        )

    def _huggingface(self, link: Link, etag: str) -> Check:
        section = {Kind.HF_DATASET: "datasets", Kind.HF_SPACE: "spaces"}.get(link.kind, "models")
        url = f"{self.endpoints.huggingface.rstrip('/')}/{section}/{link.ident}"
        response = self._get(url, etag)
        if response.status_code == 401:
            # The Hub answers 401, not 404, for a repository that does not exist (or is
            # private): to an anonymous reader both are not there.
            return Check("missing", exists=False)
        if (done := self._answered(response, etag)) is not None:
            return done
        repo = response.json()
        files = [str(s.get("rfilename", "")) for s in repo.get("siblings") or []]
        license_tag = next(
            (t.split(":", 1)[1] for t in repo.get("tags") or [] if t.startswith("license:")), ""
        )
        return Check(
            "ok",
            etag=response.headers.get("ETag", ""),
            exists=True,
            empty=not [f for f in files if f.rsplit("/", 1)[-1] not in PLACEHOLDER_FILES],
            has_weights=link.kind == Kind.HF_MODEL
            and any(f.lower().endswith(WEIGHT_SUFFIXES) for f in files),
            last_push=str(repo.get("lastModified") or ""),
            license=license_tag,
            stars=int(repo.get("likes") or 0),
        )

    def _page(self, link: Link, etag: str) -> Check:
        response = self._get(link.url, etag)
        if (done := self._answered(response, etag)) is not None:
            return done
        return Check(
            "ok",
            etag=response.headers.get("ETag", ""),
            exists=True,
            last_push=response.headers.get("Last-Modified", ""),
        )
