"""The digest as an email: subject, plain text and HTML from one context, and the headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import get_urlconf, reverse
from django.utils import timezone

from tracker.digests.schedule import zone
from tracker.digests.selectors import Digest

UNSUBSCRIBE_SALT = "tracker.digests.unsubscribe"
# Long enough to outlive a few unread weeks in an inbox; an expired link asks to log in.
UNSUBSCRIBE_MAX_AGE = 60 * 24 * 60 * 60


def absolute(name: str, *args: object) -> str:
    return _absolute(settings.SITE_URL, get_urlconf(), name, args)


@lru_cache(maxsize=8192)
def _absolute(site_url: str, urlconf: str | None, name: str, args: tuple[object, ...]) -> str:
    # A team's top papers appear in every member's digest: reversing each link once per
    # run, not once per member, is a fifth of the rendering time of a large run.
    return site_url + reverse(name, args=args, urlconf=urlconf)


def unsubscribe_token(user: User) -> str:
    return signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).sign(str(user.pk))


def unsubscribe_user_id(token: str) -> int:
    """The user the token was made for; raises signing.BadSignature (or its subclass
    SignatureExpired) for a forged or an old token."""
    value = signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).unsign(
        token, max_age=UNSUBSCRIBE_MAX_AGE
    )
    return int(value)


def unsubscribe_url(user: User) -> str:
    return absolute("digests:unsubscribe", unsubscribe_token(user))


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def digest_subject(digest: Digest) -> str:
    """Says what is inside, the most personal part first."""
    parts = []
    if digest.followed_new_count:
        parts.append(
            f"{_plural(digest.followed_new_count, 'new paper')} in "
            f"{_plural(digest.followed_topic_count, 'topic')}"
        )
    if digest.overdue_count:
        parts.append(f"{_plural(digest.overdue_count, 'assignment')} overdue")
    if digest.finished_count:
        parts.append(f"{_plural(digest.finished_count, 'reproduction')} finished")
    if digest.top_rated_count:
        parts.append(f"{_plural(digest.top_rated_count, 'top-rated paper')}")
    if digest.new_version_count:
        parts.append(f"{_plural(digest.new_version_count, 'paper')} you rated revised")
    if not parts and digest.assignment_count:
        parts.append(f"{_plural(digest.assignment_count, 'open assignment')}")
    if not parts:
        trending = len(digest.corpus.new_topics) + len(digest.corpus.growing_topics)
        if trending:
            parts.append(f"{_plural(trending, 'trending topic')}")
        if digest.corpus.pinned:
            parts.append(f"{_plural(len(digest.corpus.pinned), 'pinned paper')}")
    return ", ".join(parts[:3]) or "Your weekly digest"


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str
    unsubscribe_url: str


def digest_render(digest: Digest, tz_name: str) -> RenderedDigest:
    """The text and HTML parts from the same context, dates in the member's zone."""
    subject = digest_subject(digest)
    unsubscribe = unsubscribe_url(digest.user)
    context = {
        "digest": digest,
        "subject": subject,
        "site_url": settings.SITE_URL,
        "unsubscribe_url": unsubscribe,
        "settings_url": absolute("digests:settings"),
        "inbox_url": absolute("triage:inbox"),
        "board_url": absolute("reproductions:board"),
        "today": digest.until.astimezone(zone(tz_name)).date(),
    }
    with timezone.override(zone(tz_name)):
        text = render_to_string("digests/email/digest.txt", context)
        html = render_to_string("digests/email/digest.html", context)
    return RenderedDigest(subject, text, html, unsubscribe)


def message_id(user: User, week: date) -> str:
    """The same id for the same member and week: should a copy ever go out twice, mail
    clients that thread or deduplicate by Message-ID show it once."""
    domain = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return f"<digest.{user.pk}.{week.isoformat()}@{domain or 'localhost'}>"


def digest_message(rendered: RenderedDigest, to: str, msg_id: str) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "Message-ID": msg_id,
            # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs here.
            "List-Unsubscribe": f"<{rendered.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": "Weekly paper digest <digest.paper-tracker>",
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
