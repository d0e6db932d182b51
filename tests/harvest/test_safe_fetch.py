"""User-entered URLs never reach the server's own network: every way of writing a private
address, names that resolve to one, redirects to one, and parser tricks are refused before a
byte is sent; what is allowed is connected at the address that was checked; and every failed
fetch reads the same, so the form cannot map ports."""

from __future__ import annotations

import io
import ipaddress
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from pipeline import http as fetch
from pipeline.errors import HarvestError, RefusedURLError
from pipeline.http import FETCH_FAILED, safe_get
from tests.conftest import Cast, client_for
from tests.listeners import HTTP_500, SSH_BANNER, Listener, blackhole, closed_port
from tracker.core.fetching import fetch_config
from tracker.papers.models import Paper

pytestmark = pytest.mark.django_db

REAL_GETADDRINFO = socket.getaddrinfo


def fake_dns(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[list[str]]]) -> list[str]:
    """Resolve `names` to the given addresses, the n-th lookup getting the n-th list (the last
    one repeats): a name can change its answer between two lookups, as in DNS rebinding.
    Returns the names looked up, in order."""
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        key = host.decode() if isinstance(host, bytes) else str(host)
        if key not in names:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        answers = names[key]
        current = answers[min(asked.count(key), len(answers) - 1)]
        asked.append(key)
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, int(port or 0)),
            )
            for a in current
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.fixture
def target() -> Iterator[Listener]:
    """Something on loopback that a refused fetch must never reach."""
    with Listener() as listener:
        yield listener


REFUSED_FORMS = [
    # urlsplit sees 8.8.8.8; an HTTP library sees 127.0.0.1.
    "http://127.0.0.1:{port}\\@8.8.8.8/",
    "http://127.0.0.1:{port}\\\\@8.8.8.8/feed",
    "http://8.8.8.8@127.0.0.1:{port}/",
    "http://user:pw@127.0.0.1:{port}/",
    "http://127.0.0.1:{port}#@8.8.8.8/",
    "http://127.0.0.1:{port}?@8.8.8.8/",
    "http://127.0.0.1:{port}/ @8.8.8.8/",
    "http://127.0.0.1:{port}\t/",
    # One address, many spellings.
    "http://2130706433:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://0x7f.0.0.1:{port}/",
    "http://0x7f000001:{port}/",
    "http://127.1:{port}/",
    "http://127.0.1:{port}/",
    "http://0.0.0.0:{port}/",
    "http://0:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::ffff:7f00:1]:{port}/",
    "http://localhost:{port}/",
    "http://LocalHost:{port}/",
    "HTTP://127.0.0.1:{port}/",
    # Not http(s).
    "ftp://127.0.0.1:{port}/",
    "gopher://127.0.0.1:{port}/_GET%20/",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("form", REFUSED_FORMS)
def test_loopback_in_any_spelling_is_refused_before_a_byte_is_sent(
    form: str, target: Listener
) -> None:
    with pytest.raises(RefusedURLError):
        safe_get(form.format(port=target.port), fetch_config())
    assert not target.reached, target.received


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "127.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "224.0.0.1",
    ],
)
def test_names_that_resolve_to_a_private_address_are_refused(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connects: list[object] = []
    monkeypatch.setattr(urllib3.util.connection, "create_connection", connects.append)
    fake_dns(
        monkeypatch, {"intranet.example": [[address]], "mixed.example": [["8.8.8.8", address]]}
    )
    for url in ("http://intranet.example/feed", "https://mixed.example/feed"):
        with pytest.raises(RefusedURLError):
            safe_get(url, fetch_config())
    assert connects == []


def test_the_host_is_resolved_once_and_connected_at_the_checked_address(
    monkeypatch: pytest.MonkeyPatch, target: Listener
) -> None:
    """DNS rebinding: public when checked, loopback a moment later. The connection goes to
    the address that was checked, never to a second lookup's answer."""
    asked = fake_dns(monkeypatch, {"rebind.example": [["8.8.8.8"], ["127.0.0.1"]]})
    connects: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: object, **kwargs: object) -> None:
        connects.append(address)
        raise ConnectionRefusedError("no network in tests")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    with pytest.raises(HarvestError, match=FETCH_FAILED):
        safe_get(f"http://rebind.example:{target.port}/feed", fetch_config())
    assert asked == ["rebind.example"]
    assert connects == [("8.8.8.8", target.port)]
    assert not target.reached


class Recorder(BaseHTTPRequestHandler):
    """Answers from the server's `routes` (path -> (status, headers, body)); records the
    Host header of each request."""

    server: Any

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers.get("Host"))
        status, headers, body = self.server.routes.get(self.path, (404, {}, b"no"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def serve() -> Iterator[Callable[..., ThreadingHTTPServer]]:
    servers: list[ThreadingHTTPServer] = []

    def start(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
        httpd = ThreadingHTTPServer((host, 0), Recorder)
        if tls is not None:
            httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        httpd.routes = {}  # type: ignore[attr-defined]
        httpd.hosts = []  # type: ignore[attr-defined]
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}).start()
        servers.append(httpd)
        return httpd

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def public_127_0_0_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.2 plays a public web server; the rest of loopback stays refused."""
    refused = fetch._address_refused
    public = ipaddress.ip_address("127.0.0.2")
    monkeypatch.setattr(fetch, "_address_refused", lambda ip: ip != public and refused(ip))


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{port}/",
        "http://127.0.0.1:{port}\\@8.8.8.8/",
        "http://2130706433:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://localhost:{port}/",
        "ftp://127.0.0.1:{port}/",
    ],
)
def test_a_redirect_to_the_private_network_is_refused_before_it_is_followed(
    location: str,
    serve: Callable[..., ThreadingHTTPServer],
    target: Listener,
    public_127_0_0_2: None,
) -> None:
    site = serve("127.0.0.2")
    site.routes["/go"] = (302, {"Location": location.format(port=target.port)}, b"")  # type: ignore[attr-defined]
    with pytest.raises(RefusedURLError, match=FETCH_FAILED):
        safe_get(f"http://127.0.0.2:{site.server_port}/go", fetch_config())
    assert len(site.hosts) == 1  # type: ignore[attr-defined]
    assert not target.reached, target.received


def test_redirects_are_followed_a_bounded_number_of_times(
    serve: Callable[..., ThreadingHTTPServer], public_127_0_0_2: None
) -> None:
    site = serve("127.0.0.2")
    site.routes["/loop"] = (302, {"Location": "/loop"}, b"")  # type: ignore[attr-defined]
    site.routes["/a"] = (301, {"Location": "/b"}, b"")  # type: ignore[attr-defined]
    site.routes["/b"] = (200, {}, b"here")  # type: ignore[attr-defined]
    assert safe_get(f"http://127.0.0.2:{site.server_port}/a", fetch_config()).body == b"here"
    site.hosts.clear()  # type: ignore[attr-defined]
    with pytest.raises(HarvestError, match=FETCH_FAILED):
        safe_get(f"http://127.0.0.2:{site.server_port}/loop", fetch_config())
    assert len(site.hosts) == fetch.MAX_REDIRECTS + 1  # type: ignore[attr-defined]


def test_a_pinned_connection_keeps_the_name_in_the_host_header(
    serve: Callable[..., ThreadingHTTPServer], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.FETCH_ALLOW_PRIVATE = True
    site = serve()
    site.routes["/feed?x=1"] = (200, {}, b"ok")  # type: ignore[attr-defined]
    fake_dns(monkeypatch, {"feed.example": [["127.0.0.1"]]})
    assert (
        safe_get(f"http://feed.example:{site.server_port}/feed?x=1", fetch_config()).body == b"ok"
    )
    assert site.hosts == [f"feed.example:{site.server_port}"]  # type: ignore[attr-defined]


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_a_pinned_tls_connection_still_checks_the_certificate_for_the_name(
    serve: Callable[..., ThreadingHTTPServer],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    tmp_path: Path,
) -> None:
    """Connected at the vetted address, TLS still sends the URL's name (SNI) and verifies
    the certificate against it, not against the address."""
    try:
        cert, key = _self_signed(tmp_path, "feed.example")
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a test certificate here: {exc}")
    settings.FETCH_ALLOW_PRIVATE = True
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    names: list[str | None] = []
    tls.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    site = serve(tls=tls)
    site.routes["/feed"] = (200, {}, b"tls ok")  # type: ignore[attr-defined]
    monkeypatch.setattr(fetch, "CA_BUNDLE", str(cert))
    fake_dns(monkeypatch, {"feed.example": [["127.0.0.1"]], "other.example": [["127.0.0.1"]]})

    assert (
        safe_get(f"https://feed.example:{site.server_port}/feed", fetch_config()).body == b"tls ok"
    )
    assert names == ["feed.example"]
    with pytest.raises(HarvestError, match=FETCH_FAILED):
        safe_get(f"https://other.example:{site.server_port}/feed", fetch_config())


# --- one message for every failed fetch -------------------------------------------------------


@pytest.fixture
def three_ports() -> Iterator[dict[str, int]]:
    """A closed port, an open port speaking another protocol, an HTTP port that errors."""
    with Listener(reply=SSH_BANNER) as ssh, Listener(reply=HTTP_500) as http:
        yield {"closed": closed_port(), "ssh": ssh.port, "http": http.port}


def _command_error(url: str) -> str:
    with pytest.raises(CommandError) as caught:
        call_command("add_paper", url, stdout=io.StringIO())
    return str(caught.value)


@pytest.mark.parametrize("allow_private", [False, True])
def test_closed_other_protocol_and_http_error_ports_read_the_same(
    three_ports: dict[str, int], allow_private: bool, settings: Any, cast: Cast
) -> None:
    settings.FETCH_ALLOW_PRIVATE = allow_private
    client = client_for(cast.ben)
    messages, form_errors = set(), set()
    for port in three_ports.values():
        url = f"http://127.0.0.1:{port}/"
        messages.add(_command_error(url))
        response = client.post(reverse("papers:add"), {"id_or_url": url})
        assert response.status_code == 400
        form_errors.add(str(response.context["form"].errors["id_or_url"]))
    assert messages == {FETCH_FAILED}
    assert len(form_errors) == 1 and FETCH_FAILED in form_errors.pop()
    assert not Paper.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://host:99999/",
        "http://[::1",
        "http://" + "." * 300 + "/",
        "http://a." + "b" * 64 + "/",
    ],
)
def test_add_paper_with_a_malformed_url_gives_one_clear_error(url: str, cast: Cast) -> None:
    message = _command_error(url)
    assert message.startswith("not a valid URL") and "Traceback" not in message

    response = client_for(cast.ben).post(reverse("papers:add"), {"id_or_url": url})
    assert response.status_code == 400
    assert "not a valid URL" in str(response.context["form"].errors["id_or_url"])
    assert not Paper.objects.exists()


def test_the_backslash_url_pasted_by_a_member_reaches_nothing(target: Listener, cast: Cast) -> None:
    url = f"http://127.0.0.1:{target.port}\\@8.8.8.8/"
    response = client_for(cast.ben).post(reverse("papers:add"), {"id_or_url": url})
    assert response.status_code == 400
    assert "cannot be fetched" in str(response.context["form"].errors["id_or_url"])
    assert "cannot be fetched" in _command_error(url)
    assert not target.reached and not Paper.objects.exists()


# --- adding a paper while arXiv is unreachable ------------------------------------------------


# Both wait for a deadline to pass on a thread or a socket: under faketime (make test-later)
# such a wait never ends, so they run on the real clock only.
@pytest.mark.realtime
@pytest.mark.parametrize("arxiv_port", ["closed", "silent"])
def test_add_paper_fails_within_seconds_when_arxiv_cannot_be_reached(
    arxiv_port: str, settings: Any, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person waiting on the form gets a plain answer in seconds, not the harvest's retries
    and a raw ConnectionPool error. 'silent' accepts connections and never answers."""
    settings.FETCH_TIMEOUT_SECONDS = 8.0
    settings.HARVEST_RETRY_ATTEMPTS = 2
    settings.ARXIV_DELAY_SECONDS = 3.0
    monkeypatch.setattr(fetch, "sleep", time.sleep)  # the gate's real waits count too
    client = client_for(cast.ben)
    # Warm up: the first request of a process imports the harvest code and compiles templates.
    assert client.post(reverse("papers:add"), {"id_or_url": "not a thing"}).status_code == 400
    with blackhole() as silent:
        port = silent if arxiv_port == "silent" else closed_port()
        settings.ARXIV_API_URL = f"http://127.0.0.1:{port}/api/query"
        started = time.monotonic()
        response = client.post(reverse("papers:add"), {"id_or_url": "2401.01234"})
        elapsed = time.monotonic() - started
        # The command comes right after, so it also waits for the politeness gate.
        started = time.monotonic()
        assert "cannot reach arxiv.org" in _command_error("arXiv:2401.01234v2")
        elapsed_command = time.monotonic() - started

    assert response.status_code == 400
    assert "cannot reach arxiv.org" in str(response.context["form"].errors["id_or_url"])
    assert "ConnectionPool" not in response.content.decode()
    print(f"add a paper, arXiv {arxiv_port}: form {elapsed:.2f}s, command {elapsed_command:.2f}s")
    assert elapsed < 5.0 and elapsed_command < 5.0, (elapsed, elapsed_command)
    assert not Paper.objects.exists()


def test_an_at_sign_past_the_host_is_an_ordinary_url(
    serve: Callable[..., ThreadingHTTPServer], public_127_0_0_2: None
) -> None:
    """Blogs live at https://medium.com/@lab/...: only a user@ before the host is refused."""
    site = serve("127.0.0.2")
    site.routes["/@lab/post-%C3%A9?ref=@x"] = (200, {}, b"post")  # type: ignore[attr-defined]
    assert (
        safe_get(f"http://127.0.0.2:{site.server_port}/@lab/post-é?ref=@x", fetch_config()).body
        == b"post"
    )


def test_ipv6_loopback_is_refused_unless_allowed(settings: Any) -> None:
    try:
        listener = Listener("::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback on this machine: {exc}")
    with listener:
        port = listener.port
        for url in (
            f"http://[::1]:{port}/",
            f"http://[0:0::1]:{port}/",
            f"http://[::1%25lo]:{port}/",
        ):
            with pytest.raises(RefusedURLError):
                safe_get(url, fetch_config())
        assert not listener.reached
        # Allowed (as in tests), the pinned connection reaches it over IPv6 all the same.
        settings.FETCH_ALLOW_PRIVATE = True
        with pytest.raises(HarvestError, match=FETCH_FAILED):
            safe_get(f"http://[::1]:{port}/", fetch_config())
        assert listener.received.startswith(b"GET / HTTP/1.1")
        assert f"Host: [::1]:{port}".encode() in listener.received


@pytest.fixture
def stuck_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A name whose lookup hangs (a resolver that never answers) until the test ends."""
    release = threading.Event()

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "stuck.example":
            release.wait(60)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield "stuck.example"
    release.set()


@pytest.mark.realtime
@pytest.mark.parametrize("what", ["arxiv", "page"])
def test_add_paper_fails_within_seconds_when_the_name_lookup_hangs(
    what: str, stuck_dns: str, settings: Any
) -> None:
    """Socket timeouts do not cover the lookup; the person waiting is answered all the same."""
    settings.FETCH_TIMEOUT_SECONDS = 20.0
    settings.ARXIV_API_URL = f"http://{stuck_dns}/api/query"
    text = "2401.01234" if what == "arxiv" else f"https://{stuck_dns}/report"
    started = time.monotonic()
    message = _command_error(text)
    elapsed = time.monotonic() - started
    assert message == (
        "cannot reach arxiv.org; try again later" if what == "arxiv" else FETCH_FAILED
    )
    assert elapsed < 5.0, elapsed
