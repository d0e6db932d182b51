"""The code watch's HTTP side against fake GitHub and Hugging Face servers on loopback."""

from __future__ import annotations

from pipeline.codewatch import Endpoints, HostPacer, Kind, Link, Watcher, classify, find_links
from tests.pipeline.fake_code_hosts import fake_code_hosts, github_repo


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _watcher(url: str, **kwargs: object) -> Watcher:
    return Watcher(
        endpoints=Endpoints(github=url, gitlab=url, huggingface=url + "/api"),
        pacer=HostPacer(0),
        timeout=5,
        **kwargs,  # type: ignore[arg-type]
    )


def test_links_to_code_weights_and_project_pages_are_found_once() -> None:
    text = (
        "Code: https://github.com/acme/fastnet.git and https://github.com/acme/fastnet/tree/main. "
        "Weights at https://huggingface.co/acme/fastnet-7b, data "
        "https://huggingface.co/datasets/acme/bench, demo https://huggingface.co/spaces/acme/demo; "
        "see https://acme.github.io/fastnet/ and https://gitlab.com/group/sub/proj/-/tree/main "
        "(arXiv: https://arxiv.org/abs/2601.00001)."
    )
    links = find_links([text])
    assert [(link.kind, link.ident) for link in links] == [
        (Kind.GITHUB, "acme/fastnet"),
        (Kind.HF_MODEL, "acme/fastnet-7b"),
        (Kind.HF_DATASET, "acme/bench"),
        (Kind.HF_SPACE, "acme/demo"),
        (Kind.PAGE, ""),
        (Kind.GITLAB, "group/sub/proj"),
    ]
    assert links[4].url == "https://acme.github.io/fastnet/"
    assert classify("https://huggingface.co/papers/2601.00001") is None
    assert classify("https://doi.org/10.1/x") is None


def test_github_repository_is_read_then_answered_304_with_its_etag() -> None:
    with fake_code_hosts() as fake:
        fake.repos["acme/fastnet"] = github_repo(
            "acme/fastnet", stars=42, releases=[{"tag_name": "v1.0.0"}]
        )
        watch = _watcher(fake.url, github_token="t0ken")
        link = Link("https://github.com/acme/fastnet", Kind.GITHUB, "acme/fastnet")
        first = watch.check(link)
        assert (first.status, first.exists, first.empty) == ("ok", True, False)
        assert (first.stars, first.license, first.latest_release) == (42, "MIT", "v1.0.0")
        assert first.last_push == "2026-03-02T10:00:00Z" and first.etag.startswith('W/"')
        path, headers = fake.seen[0]
        assert path == "/repos/acme/fastnet" and headers["Authorization"] == "Bearer t0ken"

        again = watch.check(link, etag=first.etag)
        assert again.status == "not_modified" and again.etag == first.etag
        assert fake.seen[-1][1]["If-None-Match"] == first.etag
        # A 304 costs one request: no releases are fetched.
        assert fake.seen[-1][0] == "/repos/acme/fastnet"


def test_missing_empty_and_failing_repositories() -> None:
    with fake_code_hosts() as fake:
        fake.repos["acme/soon"] = github_repo("acme/soon", size=0, pushed_at=None)
        fake.fail["/repos/acme/down"] = 502
        watch = _watcher(fake.url)
        empty = watch.check(Link("https://github.com/acme/soon", Kind.GITHUB, "acme/soon"))
        assert (empty.status, empty.empty) == ("ok", True)
        gone = watch.check(Link("https://github.com/acme/gone", Kind.GITHUB, "acme/gone"))
        assert (gone.status, gone.exists) == ("missing", False)
        down = watch.check(Link("https://github.com/acme/down", Kind.GITHUB, "acme/down"))
        assert down.status == "error" and down.error == "HTTP 502 Bad Gateway"
        assert not any("Authorization" in headers for _, headers in fake.seen)
    # The server is gone: a refused connection is an error, not an exception.
    closed = _watcher(fake.url).check(Link("https://github.com/a/b", Kind.GITHUB, "a/b"))
    assert closed.status == "error" and closed.error.startswith("ConnectionError")


def test_hugging_face_model_with_weights_and_one_not_there() -> None:
    with fake_code_hosts() as fake:
        fake.models["acme/fastnet-7b"] = {
            "id": "acme/fastnet-7b",
            "modelId": "acme/fastnet-7b",
            "lastModified": "2026-03-05T08:00:00.000Z",
            "likes": 7,
            "tags": ["transformers", "license:apache-2.0"],
            "siblings": [
                {"rfilename": ".gitattributes"},
                {"rfilename": "config.json"},
                {"rfilename": "model-00001-of-00002.safetensors"},
            ],
        }
        watch = _watcher(fake.url)
        model = watch.check(Link("https://huggingface.co/acme/x", Kind.HF_MODEL, "acme/fastnet-7b"))
        assert (model.status, model.has_weights, model.empty) == ("ok", True, False)
        assert (model.license, model.stars) == ("apache-2.0", 7)
        missing = watch.check(Link("https://huggingface.co/acme/y", Kind.HF_MODEL, "acme/y"))
        assert missing.status == "missing"


def test_one_request_per_host_per_interval() -> None:
    clock = FakeClock()
    pacer = HostPacer(3.0, clock=clock, sleep=clock.sleep)
    pacer.wait("https://api.github.com/repos/a/b")
    pacer.wait("https://huggingface.co/api/models/a/b")  # another host: no wait
    clock.now += 1.0
    pacer.wait("https://api.github.com/repos/c/d")
    assert clock.slept == [2.0]
