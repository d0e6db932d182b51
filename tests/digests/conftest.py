"""A week of team activity around the named cast, and a real SMTP server on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.factories import (
    ClaimFactory,
    CommentFactory,
    LabReportFactory,
    PaperFactory,
    RatingFactory,
    ReproductionFactory,
    ResultLogFactory,
)
from tracker.papers.models import Paper
from tracker.reproductions.models import Reproduction, Status
from tracker.topics.models import PaperTopic, Topic, TopicFollow

# A Monday morning; "this week" is the seven days before it.
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """The cast's passwords are hashed on creation; the slow default hasher adds seconds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Recorder:
    """aiosmtpd handler: keeps every message; can answer 451 (try later) a few times first."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.refuse_next = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_next:
            self.refuse_next -= 1
            return "451 4.3.0 Mail server busy, try again later"
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(e.original_content, policy=policy.default)  # type: ignore[misc]
            for e in self.envelopes
        ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Smtp:
    handler: Recorder
    controller: Controller
    port: int


@pytest.fixture
def smtp(settings: Any) -> Iterator[Smtp]:
    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = "https://tracker.example.org"
    yield Smtp(handler, controller, port)
    controller.stop()


@dataclass
class Week:
    topics: dict[str, Topic] = field(default_factory=dict)
    papers: dict[str, Paper] = field(default_factory=dict)
    repros: dict[str, Reproduction] = field(default_factory=dict)


def _topic(label: str, created: datetime) -> Topic:
    return Topic.objects.create(label=label, created_at=created, size=10)


def _paper(
    week: Week, key: str, title: str, topic: Topic | None, published: datetime, **kw: Any
) -> Paper:
    paper = PaperFactory(title=title, published_at=published, **kw)
    if topic is not None:
        PaperTopic.objects.create(paper=paper, topic=topic, similarity=0.8)
    week.papers[key] = paper
    return paper


def build_week(cast: Any, now: datetime = NOW) -> Week:
    """Vision (ada, ben) and Language (carol) after a busy week. Each team has things the
    other must never see: Language's rating of a Vision favourite, its own reproductions."""
    day = timedelta(days=1)
    w = Week()
    long_ctx = w.topics["long"] = _topic("Long-context attention", now - 90 * day)
    spec = w.topics["spec"] = _topic("Speculative decoding", now - 90 * day)
    vlm = w.topics["vlm"] = _topic("Vision-language pretraining", now - 3 * day)
    TopicFollow.objects.create(user=cast.ada, topic=long_ctx)
    TopicFollow.objects.create(user=cast.ada, topic=vlm)
    TopicFollow.objects.create(user=cast.carol, topic=spec)

    # Long-context grows from 1 paper last week to 4 this week.
    _paper(w, "old_long", "Sparse attention revisited", long_ctx, now - 10 * day)
    ring = _paper(
        w,
        "ring",
        "Ring attention at 10M tokens: scaling context without approximation",
        long_ctx,
        now - 2 * day,
        authors=["Hao Liu", "Matei Zaharia", "Pieter Abbeel", "Ion Stoica"],
    )
    _paper(
        w,
        "yarn",
        "Position interpolation that survives instruction tuning",
        long_ctx,
        now - 3 * day,
    )
    _paper(
        w,
        "needle",
        "Needles are not enough: a harder long-context benchmark",
        long_ctx,
        now - 1 * day,
    )
    _paper(w, "memo", "Recurrent memory tokens for 1M-token retrieval", long_ctx, now - 4 * day)
    clip = _paper(
        w, "clip", "Scaling image-text pretraining with synthetic captions", vlm, now - 2 * day
    )
    eagle = _paper(w, "eagle", "Tree drafts for speculative decoding", spec, now - 2 * day)
    qwen = LabReportFactory(title="Qwen3 technical report", published_at=now - 5 * day, lab="Qwen")
    PaperTopic.objects.create(paper=qwen, topic=spec, similarity=0.7)
    w.papers["qwen"] = qwen

    # Vision's ratings this week; Language rates the same paper 1, which Vision never sees.
    RatingFactory(team=cast.vision, user=cast.ben, paper=ring, value=5, updated_at=now - day)
    RatingFactory(team=cast.vision, user=cast.ben, paper=clip, value=4, updated_at=now - day)
    RatingFactory(team=cast.vision, user=cast.ben, paper=qwen, value=3, updated_at=now - day)
    RatingFactory(team=cast.language, user=cast.carol, paper=ring, value=1, updated_at=now - day)
    RatingFactory(team=cast.language, user=cast.carol, paper=eagle, value=5, updated_at=now - day)
    CommentFactory(team=cast.vision, user=cast.ben, paper=ring, body="Section 4 is the key.")
    CommentFactory(team=cast.language, user=cast.carol, paper=ring, body="Language-only remark")
    CommentFactory(team=cast.language, user=cast.carol, paper=ring, body="Language-only again")

    # A paper ada rated a while ago got a second version this week.
    revised = _paper(
        w,
        "revised",
        "FlashAttention-4: faster attention on new GPUs",
        None,
        now - 40 * day,
        version=2,
        revised_at=now - 2 * day,
    )
    RatingFactory(
        team=cast.vision, user=cast.ada, paper=revised, value=4, updated_at=now - 30 * day
    )

    # ada's assignments: one overdue, one due soon; carol's is Language's own.
    today = now.date()
    overdue = ReproductionFactory(
        team=cast.vision,
        proposed_by=cast.ben,
        paper=_paper(w, "lora", "LoRA without regret", None, now - 60 * day),
        status=Status.IN_PROGRESS,
        due_date=today - timedelta(days=3),
    )
    overdue.assignees.add(cast.ada)
    soon = ReproductionFactory(
        team=cast.vision,
        proposed_by=cast.ben,
        paper=_paper(w, "dpo", "Direct preference optimisation at scale", None, now - 50 * day),
        status=Status.ACCEPTED,
        due_date=today + timedelta(days=4),
    )
    soon.assignees.add(cast.ada)
    lang_assigned = ReproductionFactory(
        team=cast.language,
        proposed_by=cast.ben,
        paper=_paper(
            w, "lang_secret", "Language team private replication target", None, now - 20 * day
        ),
        status=Status.IN_PROGRESS,
        due_date=today + timedelta(days=1),
    )
    lang_assigned.assignees.add(cast.carol)
    w.repros.update(overdue=overdue, soon=soon, lang_assigned=lang_assigned)

    # Finished this week: Vision's failed one must come before its success.
    ok_paper = _paper(w, "ok", "Chinchilla scaling laws, re-estimated", None, now - 80 * day)
    fail_paper = _paper(w, "fail", "A 7B model that beats GPT-4 on MMLU", None, now - 70 * day)
    good = ReproductionFactory(
        team=cast.vision,
        proposed_by=cast.ben,
        paper=ok_paper,
        status=Status.REPRODUCED,
        finished_at=now - 3 * day,
    )
    bad = ReproductionFactory(
        team=cast.vision,
        proposed_by=cast.ben,
        paper=fail_paper,
        status=Status.NOT_REPRODUCED,
        finished_at=now - 2 * day,
    )
    # With its protocol: a clear miss is "not reproduced" only when the run matched it.
    mmlu = ClaimFactory(
        team=cast.vision,
        paper=fail_paper,
        metric="accuracy",
        dataset="MMLU",
        claimed_value=86.4,
        shots=5,
    )
    gsm = ClaimFactory(
        team=cast.vision, paper=fail_paper, metric="accuracy", dataset="GSM8K", claimed_value=92.0
    )
    ResultLogFactory(reproduction=bad, claim=gsm, reproduced_value=92.3)
    ResultLogFactory(reproduction=bad, claim=mmlu, reproduced_value=78.1, shots=5)
    ResultLogFactory(reproduction=bad, claim=mmlu, reproduced_value=78.5, shots=5)
    loss = ClaimFactory(
        team=cast.vision,
        paper=ok_paper,
        metric="loss",
        dataset="C4",
        claimed_value=2.1,
        higher_is_better=False,
        tolerance=0.05,
    )
    ResultLogFactory(reproduction=good, claim=loss, reproduced_value=2.12)
    lang_done = ReproductionFactory(
        team=cast.language,
        proposed_by=cast.ben,
        paper=_paper(w, "lang_done", "Language team finished secret study", None, now - 30 * day),
        status=Status.NOT_REPRODUCED,
        finished_at=now - day,
    )
    w.repros.update(good=good, bad=bad, lang_done=lang_done)

    pinned = _paper(
        w, "pinned", "The reading group paper: Attention is all you need", None, now - 400 * day
    )
    Paper.objects.filter(pk=pinned.pk).update(pinned_for_digest=True)
    return w


def week_key(moment: datetime = NOW) -> date:
    return (moment - timedelta(days=moment.weekday())).date()
