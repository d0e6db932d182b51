"""factory-boy factories for every model later tests need."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from tracker.papers.models import Paper, PaperKind, Source, SourceKind
from tracker.reproductions.models import Claim, Reproduction, ResultLog
from tracker.teams.models import Membership, Role, Team
from tracker.triage.models import Comment, Rating


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.LazyAttribute(lambda t: t.name.lower().replace(" ", "-"))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class PaperFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Paper

    kind = PaperKind.ARXIV
    arxiv_id = factory.Sequence(lambda n: f"2501.{n:05d}")
    canonical_url = factory.LazyAttribute(lambda p: f"https://arxiv.org/abs/{p.arxiv_id}")
    title = factory.Sequence(lambda n: f"A study of attention number {n}")
    normalized_title = factory.LazyAttribute(lambda p: p.title.lower())
    abstract = "We study attention and report results on standard benchmarks."
    authors = factory.LazyFunction(lambda: ["Ada Lovelace", "Alan Turing"])
    categories = factory.LazyFunction(lambda: ["cs.CL", "cs.LG"])
    primary_category = "cs.CL"
    published_at = factory.LazyFunction(timezone.now)
    updated_at_source = factory.LazyFunction(timezone.now)


class LabReportFactory(PaperFactory):
    kind = PaperKind.LAB_REPORT
    arxiv_id = None
    lab = "Qwen"
    canonical_url = factory.Sequence(lambda n: f"https://qwenlm.github.io/blog/post-{n}/")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    name = factory.Sequence(lambda n: f"source-{n}")
    kind = SourceKind.ARXIV
    query = "cat:cs.CL"


class RatingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rating

    team = factory.SubFactory(TeamFactory)
    paper = factory.SubFactory(PaperFactory)
    user = factory.SubFactory(UserFactory)
    value = 4


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    team = factory.SubFactory(TeamFactory)
    paper = factory.SubFactory(PaperFactory)
    user = factory.SubFactory(UserFactory)
    body = "Worth a look: the ablation in section 4 is convincing."


class ReproductionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reproduction

    team = factory.SubFactory(TeamFactory)
    paper = factory.SubFactory(PaperFactory)
    proposed_by = factory.SubFactory(UserFactory)


class ClaimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Claim

    team = factory.SubFactory(TeamFactory)
    paper = factory.SubFactory(PaperFactory)
    metric = "accuracy"
    dataset = "MMLU"
    claimed_value = 71.3
    higher_is_better = True
    tolerance = 0.5


class ResultLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResultLog

    reproduction = factory.SubFactory(ReproductionFactory)
    claim = factory.SubFactory(ClaimFactory)
    reproduced_value = 70.9
