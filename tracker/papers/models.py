"""Papers, their versions and sources, harvest runs, embeddings and duplicate candidates.

Papers are shared by all teams (the corpus); what a team says about a paper (ratings,
comments, reproductions) lives in the team-owned apps.
"""

from __future__ import annotations

from typing import Self, cast
from urllib.parse import urlsplit

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Upper
from django.db.models.lookups import Contains
from django.utils import timezone
from pgvector.django import VectorField

# Where ML code lives: a paper "has code" when a harvest found a code link or its abstract
# or comments name a repository on one of these hosts (tracker/papers/links.py finds the
# repositories themselves).
CODE_HOSTS = ("github.com/", "gitlab.com/", "huggingface.co/")


def has_code_condition() -> models.Q:
    # UPPER(column) LIKE an upper-cased literal: the icontains lookup upper-cases its
    # pattern in SQL, which PostgreSQL refuses in a generated column (no collation).
    q = ~models.Q(code_urls=[])
    for host in CODE_HOSTS:
        for column in ("abstract", "comment"):
            # Q | a conditional expression is a Q; the stubs type Q.__or__ for a Q alone.
            q = cast(models.Q, q | Contains(Upper(column), host.upper()))
    return q


class PaperKind(models.TextChoices):
    ARXIV = "arxiv", "arXiv paper"
    LAB_REPORT = "lab_report", "Lab report"


class PaperQuerySet(models.QuerySet["Paper"]):
    def visible(self) -> Self:
        """Papers shown in the inbox, search and digests: not hidden, not merged away."""
        return self.filter(hidden=False, merged_into__isnull=True)

    def arxiv(self) -> Self:
        return self.filter(kind=PaperKind.ARXIV)

    def waiting_for_arxiv(self) -> Self:
        """Lab reports that link to an arXiv paper not stored yet. One whose merge into that
        paper a curator undid waits no more: they decided it is another work."""
        return (
            self.exclude(arxiv_link="")
            .filter(kind=PaperKind.LAB_REPORT, merged_into__isnull=True)
            .exclude(merges_given__undone_at__isnull=False)
        )


class Paper(models.Model):
    arxiv_id = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        unique=True,
        help_text="Versionless arXiv id (2401.01234 or hep-th/9901001); empty for lab reports.",
    )
    canonical_url = models.URLField(max_length=1000, unique=True)
    kind = models.CharField(max_length=16, choices=PaperKind.choices, default=PaperKind.ARXIV)
    lab = models.CharField(max_length=120, blank=True, db_index=True)
    title = models.TextField()
    # Lower-cased, punctuation and spacing folded: the key for duplicate candidates.
    normalized_title = models.CharField(max_length=500, db_index=True, blank=True)
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True, help_text="Author names, in order.")
    affiliations = models.JSONField(
        default=list,
        blank=True,
        help_text="Each author's affiliations as arXiv gave them, in the authors' order; "
        "empty when arXiv names none.",
    )
    categories = models.JSONField(default=list, blank=True)
    primary_category = models.CharField(max_length=32, blank=True, db_index=True)
    comment = models.TextField(blank=True)
    journal_ref = models.TextField(blank=True)
    doi = models.CharField(max_length=200, blank=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at_source = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    revised_at = models.DateTimeField(
        null=True, blank=True, help_text="When a new version of an already-stored paper arrived."
    )
    pdf_url = models.URLField(max_length=1000, blank=True)
    # A feed entry that links to an arXiv paper not stored yet (arXiv missed it, or could
    # not be reached) is kept as a lab report with that paper's id; when the paper is
    # stored, by any path, the report is merged into it: one paper, two sources.
    arxiv_link = models.CharField(
        max_length=32,
        blank=True,
        default="",
        # Also in the database: the harvest's raw INSERTs need not name the column.
        db_default="",
        help_text="A lab report's arXiv paper (versionless id), waiting for that paper.",
    )
    code_urls = models.JSONField(default=list, blank=True)
    # Kept by the database on every write (harvest upserts included), so the inbox's "has
    # code" filter and tag read one column instead of searching each abstract.
    has_code = models.GeneratedField(
        expression=models.ExpressionWrapper(
            has_code_condition(), output_field=models.BooleanField()
        ),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    hidden = models.BooleanField(default=False, db_index=True)
    # Why indexing skipped the paper (its full-text document or its vector could not be
    # made); empty when all is well. Curators find these in the admin's state filter.
    index_error = models.TextField(blank=True, default="")
    pinned_for_digest = models.BooleanField(default=False)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_papers"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PaperQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            models.Index(fields=["kind", "-published_at"], name="paper_kind_published"),
            # Only the few lab reports that link to arXiv: every arXiv upsert probes it.
            models.Index(
                fields=["arxiv_link"], condition=~models.Q(arxiv_link=""), name="paper_arxiv_link"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=PaperKind.values), name="paper_kind_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=PaperKind.ARXIV) | models.Q(arxiv_id__isnull=False),
                name="paper_arxiv_kind_has_id",
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="paper_version_gte_1"),
        ]

    def __str__(self) -> str:
        return self.title[:80]

    @property
    def is_revised(self) -> bool:
        return self.revised_at is not None

    @property
    def abs_url(self) -> str:
        if self.arxiv_id:
            return f"https://arxiv.org/abs/{self.arxiv_id}"
        return self.canonical_url


# The version row of a text stored without a version number (an import of daily listings),
# kept when a numbered version replaces it: older than any numbered one.
UNNUMBERED_VERSION = 0


class PaperVersion(models.Model):
    """One arXiv version as it was seen; the paper row holds the newest."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    title = models.TextField()
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True)
    updated_at_source = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["paper", "version"]
        constraints = [
            models.UniqueConstraint(fields=["paper", "version"], name="paperversion_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.paper_id} {self.label}"

    @property
    def label(self) -> str:
        return "v?" if self.version == UNNUMBERED_VERSION else f"v{self.version}"


class SourceKind(models.TextChoices):
    ARXIV = "arxiv", "arXiv query"
    FEED = "feed", "RSS/Atom feed"
    OAI = "oai", "arXiv OAI-PMH set"


class SourceQuerySet(models.QuerySet["Source"]):
    def enabled(self) -> Self:
        return self.filter(enabled=True)


class Source(models.Model):
    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    query = models.TextField(blank=True, help_text="arXiv query, e.g. cat:cs.CL OR cat:cs.LG")
    url = models.URLField(max_length=1000, blank=True, help_text="Feed URL (RSS/Atom).")
    lab = models.CharField(max_length=120, blank=True)
    oai_set = models.CharField(max_length=64, blank=True, help_text="OAI-PMH set, e.g. cs")
    enabled = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(
        default=360, help_text="How often the scheduled harvest runs."
    )
    window_days = models.PositiveIntegerField(
        default=7, help_text="How far back the first harvest reaches."
    )
    cursor = models.DateTimeField(
        null=True, blank=True, help_text="Newest update already committed; harvests stop here."
    )
    resume_token = models.TextField(blank=True, help_text="OAI-PMH resumptionToken of a run.")
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=SourceKind.values), name="source_kind_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="arxiv") | ~models.Q(query=""),
                name="source_arxiv_has_query",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="feed") | ~models.Q(url=""), name="source_feed_has_url"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # URLField lets ftp:// and the like through; a harvest fetches only http(s), so such
        # a source would fail on every run instead of when it is saved.
        if not self.url:
            return
        try:
            scheme = urlsplit(self.url).scheme.lower()
        except ValueError:
            return  # malformed: the field's own validator says so
        if scheme not in ("http", "https"):
            raise ValidationError({"url": "Use an http:// or https:// URL."})


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RunErrorKind(models.TextChoices):
    NETWORK = "network", "no network"
    REFUSED = "refused", "address refused"
    BAD_RESPONSE = "bad_response", "the server answered with an error"
    WORKER_LOST = "worker_lost", "the worker stopped"
    OTHER = "other", "unexpected error"


# One line per kind on the Sources page; the message itself is often a URL and an
# exception's repr, which the page keeps behind "details".
ERROR_SUMMARIES: dict[str, str] = {
    RunErrorKind.NETWORK: "Could not reach the server (no network?). The next harvest tries again.",
    RunErrorKind.REFUSED: "The address is refused: it is private or loopback.",
    RunErrorKind.BAD_RESPONSE: "The server answered with an error.",
    RunErrorKind.WORKER_LOST: "The worker stopped during the run; the next harvest redoes it.",
}
ERROR_LINE_CHARS = 140


class HarvestRun(models.Model):
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    # Records a run left out (a malformed or oversized feed entry), one line of reason each.
    skipped = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # Why a failed run failed, so pages can tell "offline" from a server's error without
    # reading the message (which for user-entered URLs is deliberately the same every time).
    error_kind = models.CharField(max_length=16, choices=RunErrorKind.choices, blank=True)
    # Moved on at every committed page: a running run whose heartbeat stops was killed with
    # its worker (harvest_runs_reap).
    heartbeat_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # One harvest per source at a time: a second one would fetch every page again.
            models.UniqueConstraint(
                fields=["source"],
                condition=models.Q(status="running"),
                name="harvestrun_one_running_per_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    def error_summary(self) -> str:
        """The error as one line a person can read; the full text stays in `error`."""
        if not self.error:
            return ""
        if self.error_kind in ERROR_SUMMARIES:
            return ERROR_SUMMARIES[self.error_kind]
        first = self.error.strip().splitlines()[0] if self.error.strip() else ""
        return first if len(first) <= ERROR_LINE_CHARS else first[: ERROR_LINE_CHARS - 1] + "…"


class PaperSource(models.Model):
    """Which source saw which paper, and where (the arXiv listing, a lab's blog post)."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="paper_sources")
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="paper_sources"
    )
    url = models.URLField(max_length=1000)
    title = models.TextField(blank=True, help_text="The entry's own title at that source.")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["paper", "url"], name="papersource_unique_url"),
        ]

    def __str__(self) -> str:
        return f"{self.paper_id} @ {self.url}"


class Embedding(models.Model):
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="embeddings")
    model_name = models.CharField(max_length=200, db_index=True)
    dimension = models.PositiveIntegerField()
    vector = models.BinaryField(help_text="float32, L2-normalised, little-endian.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["paper", "model_name"], name="embedding_unique"),
            models.CheckConstraint(condition=models.Q(dimension__gt=0), name="embedding_dim_pos"),
        ]
        # Every search asks for a model's newest vector id (the index's freshness key):
        # with the id in the index that is one probe instead of a scan of the model's rows.
        indexes = [models.Index(fields=["model_name", "id"], name="embedding_model_newest")]

    def __str__(self) -> str:
        return f"{self.paper_id} [{self.model_name}]"

    def as_array(self) -> np.ndarray:
        return np.frombuffer(bytes(self.vector), dtype="<f4")


class EmbeddingVector(models.Model):
    """An embedding's vector as a pgvector column, on PostgreSQL with the `vector` extension.

    The table exists only there (migration 0013 creates it when the extension is
    available; elsewhere it is part of the model state alone), so only
    tracker.papers.vectors reads or writes it, after vectors.vector_table_exists(). The
    column has no fixed dimension: each model's rows get their own partial HNSW index on
    a cast to that model's dimension (vectors.embedding_vector_index_ensure). The
    relations are plain columns to Django; the database deletes a row with its embedding.
    """

    embedding = models.OneToOneField(
        Embedding,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    paper = models.ForeignKey(
        Paper, on_delete=models.DO_NOTHING, db_constraint=False, related_name="vectors"
    )
    model_name = models.CharField(max_length=200)
    vector = VectorField()
    # The paper's facts that the search filters read, on the vector's own row so that the
    # HNSW walk tests a filter without looking its paper up. The database keeps them in
    # step with the paper (migration 0015's triggers): a row written without them gets its
    # paper's, and a paper's change goes to its rows. `visible` is Paper.objects.visible();
    # NULL only on a row migration 0015 has not filled yet.
    published_at = models.DateTimeField(null=True, blank=True)
    primary_category = models.CharField(max_length=32, blank=True)
    kind = models.CharField(max_length=16, blank=True)
    visible = models.BooleanField(null=True)

    def __str__(self) -> str:
        return f"{self.paper_id} [{self.model_name}]"


class EmbeddingVectorCopy(models.Model):
    """The copy of an install's stored vectors into the pgvector column (EmbeddingVector).

    Migration 0013 opens one when it adds the column to a database that already holds
    vectors; search answers from the in-process index while one is open (finished_at
    empty) and from the column once every vector is there. `copied_upto` is the last
    embedding id copied, so a stopped copy goes on from there."""

    copied_upto = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"vector copy up to {self.copied_upto}" + (" (done)" if self.finished_at else "")


class CandidateStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Merged"
    REJECTED = "rejected", "Not a duplicate"


class DuplicateCandidate(models.Model):
    """Two papers that may be one work; a curator decides. Stored with paper_a < paper_b."""

    paper_a = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="+")
    paper_b = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=32, help_text="title, embedding or arxiv-link")
    score = models.FloatField(default=1.0)
    status = models.CharField(
        max_length=16, choices=CandidateStatus.choices, default=CandidateStatus.OPEN, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["paper_a", "paper_b"], name="dupcandidate_unique"),
            models.CheckConstraint(
                condition=models.Q(paper_a__lt=models.F("paper_b")), name="dupcandidate_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.paper_a_id} ~ {self.paper_b_id} ({self.status})"


class PaperMerge(models.Model):
    """A curator's merge of one paper into another, with what it moved, so it can be undone."""

    survivor = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="merges_received")
    merged = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="merges_given")
    candidate = models.ForeignKey(
        DuplicateCandidate, null=True, blank=True, on_delete=models.SET_NULL
    )
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(default=timezone.now)
    moved = models.JSONField(default=dict, help_text="Ids of the rows moved, per model.")
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"{self.merged_id} -> {self.survivor_id}"


class CodeLinkKind(models.TextChoices):
    GITHUB = "github", "GitHub repository"
    GITLAB = "gitlab", "GitLab repository"
    HF_MODEL = "hf_model", "Hugging Face model"
    HF_DATASET = "hf_dataset", "Hugging Face dataset"
    HF_SPACE = "hf_space", "Hugging Face space"
    PAGE = "page", "project page"


class CodeLink(models.Model):
    """A repository, model, dataset or project page a paper points to, checked on a
    schedule; what the last check found, and its failures, kept per link."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="code_watch")
    url = models.URLField(max_length=500)
    kind = models.CharField(max_length=12, choices=CodeLinkKind.choices)
    ident = models.CharField(max_length=300, blank=True)
    etag = models.CharField(max_length=200, blank=True)
    exists = models.BooleanField(null=True)
    empty = models.BooleanField(null=True)
    has_weights = models.BooleanField(null=True)
    last_push = models.CharField(max_length=40, blank=True)
    license = models.CharField(max_length=60, blank=True)
    latest_release = models.CharField(max_length=120, blank=True)
    stars = models.PositiveIntegerField(null=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(default=timezone.now, db_index=True)
    failures = models.PositiveIntegerField(default=0, help_text="Failed checks in a row.")
    last_error = models.CharField(max_length=300, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["paper", "id"]
        constraints = [
            models.UniqueConstraint(fields=["paper", "url"], name="codelink_unique_url"),
        ]

    def __str__(self) -> str:
        return self.url


class CodeEventKind(models.TextChoices):
    CODE_RELEASED = "code_released", "Code released"
    WEIGHTS_RELEASED = "weights_released", "Weights released"
    CODE_PROMISED = "code_promised", "Code promised"


class CodeEvent(models.Model):
    """Something the code watch saw happen; each kind once per link."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="code_events")
    link = models.ForeignKey(CodeLink, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=CodeEventKind.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["link", "kind"], name="codeevent_once_per_link"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.link}"


class AuthorLab(models.Model):
    """An author's lab, kept by curators: how arXiv papers (which rarely name a lab) get
    one. Suggested rows come from authors' co-occurrence with lab posts and count only once
    a curator confirms them."""

    author = models.CharField(max_length=200, unique=True)
    lab = models.CharField(max_length=120)
    confirmed = models.BooleanField(default=False, db_index=True)
    # Lab posts of this lab the author appears on (for a suggestion), and of any lab.
    posts_with_lab = models.PositiveIntegerField(default=0)
    posts_total = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["author"]

    def __str__(self) -> str:
        return f"{self.author} → {self.lab}"
