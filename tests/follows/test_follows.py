"""Following things, and the alerts new papers and code events raise: each (follow, paper)
once, only for what is new, one bad paper never blocking the others."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from pipeline import follows as rules
from pipeline.records import PaperRecord
from tests.factories import PaperFactory, SourceFactory
from tests.follows.conftest import member
from tracker.follows.models import Alert, Follow, FollowKind
from tracker.follows.services import (
    alerts_create,
    alerts_create_for_code_events,
    follow_add,
    follow_remove,
    follow_remove_matching,
)
from tracker.papers.embeddings import embeddings_store, stored_model_name
from tracker.papers.models import CodeEvent, CodeEventKind, CodeLink, PaperSource
from tracker.papers.services import papers_upsert
from tracker.topics.models import PaperTopic, Topic, TopicFollow

pytestmark = pytest.mark.django_db


def test_following_twice_however_written_is_one_follow(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    ada = member(cast.ada, cast.vision)
    first, created = follow_add(ada, FollowKind.AUTHOR, "Yann LeCun")
    again, created_again = follow_add(ada, FollowKind.AUTHOR, "  yann   lecun ")
    assert created and not created_again and first.pk == again.pk
    assert first.label == "Yann LeCun" and first.value == "yann lecun"
    assert first.reason == "you follow Yann LeCun"


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (FollowKind.AUTHOR, "   ", "Say what to follow."),
        (FollowKind.KEYWORD, "x" * 301, "That is longer than 300 characters."),
        ("planet", "Mars", "That cannot be followed."),
        (FollowKind.SOURCE, "999999", "That source does not exist."),
        (FollowKind.SOURCE, "../1", "Nothing to follow there."),
        (FollowKind.TOPIC, "424242", "That topic does not exist."),
        (FollowKind.PAPER, "424242", "That paper does not exist."),
        (FollowKind.SEARCH, '"" --', "That search has no words to match."),
    ],
)
def test_bad_input_gets_a_clear_error_and_stores_nothing(  # type: ignore[no-untyped-def]
    cast, kind: str, value: str, message: str
) -> None:
    follow_add(member(cast.ada, cast.vision), FollowKind.AUTHOR, "Kept Author")
    with pytest.raises(ValidationError) as caught:
        follow_add(member(cast.ada, cast.vision), kind, value)
    assert caught.value.messages == [message]
    assert list(Follow.objects.values_list("label", flat=True)) == ["Kept Author"]


def test_only_curators_change_the_team_channel(cast) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        follow_add(member(cast.ben, cast.vision), FollowKind.LAB, "Qwen", channel=True)
    channel, _ = follow_add(member(cast.ada, cast.vision), FollowKind.LAB, "Qwen", channel=True)
    assert channel.is_channel and channel.reason == "the team follows Qwen"
    with pytest.raises(PermissionDenied):
        follow_remove(member(cast.ben, cast.vision), channel.pk)
    # Another member's follow, or another team's, reads as not there.
    own, _ = follow_add(member(cast.ben, cast.vision), FollowKind.KEYWORD, "RLHF")
    assert follow_remove(member(cast.ada, cast.vision), own.pk) is None
    assert follow_remove(member(cast.carol, cast.language), channel.pk) is None
    assert Follow.objects.count() == 2


def test_a_topic_follow_is_also_the_inboxs_topic_follow(cast) -> None:  # type: ignore[no-untyped-def]
    topic = Topic.objects.create(label="Agents")
    ben = member(cast.ben, cast.vision)
    follow_add(ben, FollowKind.TOPIC, str(topic.pk))
    assert TopicFollow.objects.filter(user=cast.ben, topic=topic).exists()
    follow_remove_matching(ben, FollowKind.TOPIC, str(topic.pk))
    assert not TopicFollow.objects.filter(user=cast.ben, topic=topic).exists()
    assert not Follow.objects.exists()


def _new_paper(**fields: object):  # type: ignore[no-untyped-def]
    return PaperFactory(created_at=timezone.now(), **fields)


def test_each_kind_of_follow_alerts_its_new_papers_once(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    ben = member(cast.ben, cast.vision)
    source = SourceFactory(name="Qwen blog")
    topic = Topic.objects.create(label="Agents")
    follow_add(ben, FollowKind.AUTHOR, "Yann LeCun")
    follow_add(ben, FollowKind.LAB, "Qwen")
    follow_add(ben, FollowKind.SOURCE, str(source.pk))
    follow_add(ben, FollowKind.KEYWORD, "world model")
    follow_add(ben, FollowKind.SEARCH, "sparse attention")
    follow_add(ben, FollowKind.TOPIC, str(topic.pk))
    frozen.shift(60)
    by_author = _new_paper(authors=["Yann LeCun", "Someone Else"])
    by_lab = _new_paper(lab="Qwen")
    from_source = _new_paper()
    PaperSource.objects.create(paper=from_source, source=source, url="https://qwen.example/p")
    by_keyword = _new_paper(abstract="We learn a world model from video.")
    by_search = _new_paper(title="Sparse routing", abstract="cheap attention at scale")
    in_topic = _new_paper()
    PaperTopic.objects.create(paper=in_topic, topic=topic)
    unrelated = _new_paper(title="Protein folding", abstract="Nothing we follow.")
    ids = [p.pk for p in (by_author, by_lab, from_source, by_keyword, by_search, in_topic)]

    assert alerts_create([*ids, unrelated.pk]) == 6
    assert alerts_create([*ids, unrelated.pk]) == 0  # a re-run raises nothing twice
    reasons = dict(Alert.objects.values_list("paper_id", "reason"))
    assert reasons == {
        by_author.pk: "you follow Yann LeCun",
        by_lab.pk: "you follow Qwen",
        from_source.pk: "you follow Qwen blog",
        by_keyword.pk: "you follow “world model”",
        by_search.pk: "you follow the search “sparse attention”",
        in_topic.pk: "you follow Agents",
    }
    assert set(Alert.objects.values_list("user_id", flat=True)) == {cast.ben.pk}


def test_only_new_papers_alert(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    before_follow = _new_paper(authors=["Yann LeCun"])
    frozen.shift(60)
    follow_add(member(cast.ben, cast.vision), FollowKind.AUTHOR, "Yann LeCun")
    frozen.shift(60)
    long_ago = _new_paper(authors=["Yann LeCun"])
    # A model change re-embeds old papers: an arrival past the window is not news.
    type(long_ago).objects.filter(pk=long_ago.pk).update(
        created_at=timezone.now() - timedelta(days=30)
    )
    hidden = _new_paper(authors=["Yann LeCun"], hidden=True)
    fresh = _new_paper(authors=["Yann LeCun"])
    assert alerts_create([before_follow.pk, long_ago.pk, hidden.pk, fresh.pk]) == 1
    assert Alert.objects.get().paper_id == fresh.pk


def test_one_paper_that_cannot_be_matched_does_not_block_the_others(  # type: ignore[no-untyped-def]
    cast, frozen, monkeypatch, caplog
) -> None:
    follow_add(member(cast.ben, cast.vision), FollowKind.KEYWORD, "attention")
    frozen.shift(60)
    broken, fine = _new_paper(title="Broken attention"), _new_paper(title="Fine attention")
    real = rules.follow_matches

    def matches(spec: rules.Follow, facts: rules.PaperFacts) -> bool:
        if facts.title == "Broken attention":
            raise ValueError("a malformed record")
        return real(spec, facts)

    monkeypatch.setattr(rules, "follow_matches", matches)
    assert alerts_create([broken.pk, fine.pk]) == 1
    assert Alert.objects.get().paper_id == fine.pk
    assert f"paper {broken.pk} failed" in caplog.text


def test_a_channel_follow_alerts_the_team_not_another_team(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    follow_add(member(cast.ada, cast.vision), FollowKind.AUTHOR, "Yann LeCun", channel=True)
    follow_add(member(cast.carol, cast.language), FollowKind.AUTHOR, "Yann LeCun")
    frozen.shift(60)
    paper = _new_paper(authors=["Yann LeCun"])
    assert alerts_create([paper.pk]) == 2
    vision = Alert.objects.get(team=cast.vision)
    assert vision.user_id is None and vision.reason == "the team follows Yann LeCun"
    assert Alert.objects.get(team=cast.language).user_id == cast.carol.pk


def test_a_seed_paper_alerts_papers_like_it(cast, frozen) -> None:  # type: ignore[no-untyped-def]

    seed = _new_paper(title="Seed")
    follow_add(member(cast.ben, cast.vision), FollowKind.PAPER, str(seed.pk))
    frozen.shift(60)
    like, unlike = _new_paper(title="Like it"), _new_paper(title="Unlike it")
    vectors = np.array([[1, 0, 0], [0.8, 0.6, 0], [0, 0, 1]], dtype="<f4")
    embeddings_store(stored_model_name(), [seed.pk, like.pk, unlike.pk], vectors)
    assert alerts_create([seed.pk, like.pk, unlike.pk]) == 1
    assert Alert.objects.get().paper_id == like.pk
    assert Alert.objects.get().reason == "more like “Seed”, which you follow"


def test_arrival_queues_matching_after_commit(  # type: ignore[no-untyped-def]
    cast, frozen, eager_tasks, django_capture_on_commit_callbacks
) -> None:
    follow_add(member(cast.ben, cast.vision), FollowKind.AUTHOR, "Yann LeCun")
    frozen.shift(60)
    record = PaperRecord(arxiv_id="2603.00001", version=1, title="JEPA", authors=["Yann LeCun"])
    with django_capture_on_commit_callbacks(execute=True):
        papers_upsert([record])
    alert = Alert.objects.get()
    assert alert.paper.arxiv_id == "2603.00001"
    # The same paper again (an update, a second harvest) raises nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        papers_upsert(
            [PaperRecord(arxiv_id="2603.00001", version=2, title="JEPA 2", authors=["Yann LeCun"])]
        )
    assert Alert.objects.count() == 1


def _code_event(paper, kind: str = CodeEventKind.CODE_RELEASED) -> CodeEvent:  # type: ignore[no-untyped-def]
    link = CodeLink.objects.create(paper=paper, url="https://github.com/fair/jepa", kind="github")
    return CodeEvent.objects.create(paper=paper, link=link, kind=kind, at=timezone.now())


def test_code_released_alerts_the_followers_of_the_paper_once(cast, frozen) -> None:  # type: ignore[no-untyped-def]
    ben, carol = member(cast.ben, cast.vision), member(cast.carol, cast.language)
    follow_add(ben, FollowKind.AUTHOR, "Yann LeCun")
    frozen.shift(60)
    paper = _new_paper(authors=["Yann LeCun"])
    follow_add(carol, FollowKind.PAPER, str(paper.pk))
    unrelated = _new_paper()
    alerts_create([paper.pk, unrelated.pk])
    frozen.shift(60)
    event = _code_event(paper)
    other = _code_event(unrelated)
    assert alerts_create_for_code_events([event.pk, other.pk]) == 2
    assert alerts_create_for_code_events([event.pk]) == 0
    code_alerts = Alert.objects.filter(code_event__isnull=False)
    assert {a.user_id for a in code_alerts} == {cast.ben.pk, cast.carol.pk}
    assert {a.code_event_id for a in code_alerts} == {event.pk}


def test_recording_a_code_event_queues_its_alerts(  # type: ignore[no-untyped-def]
    cast, frozen, eager_tasks, django_capture_on_commit_callbacks
) -> None:
    from pipeline.codewatch import Check
    from tracker.papers.codewatch import code_link_record

    follow_add(member(cast.ben, cast.vision), FollowKind.AUTHOR, "Yann LeCun")
    frozen.shift(60)
    paper = _new_paper(authors=["Yann LeCun"])
    alerts_create([paper.pk])
    link = CodeLink.objects.create(paper=paper, url="https://github.com/fair/jepa", kind="github")
    with django_capture_on_commit_callbacks(execute=True):
        code_link_record(link, Check(status="ok", exists=True, empty=False))
    alert = Alert.objects.get(code_event__isnull=False)
    assert alert.code_event.kind == CodeEventKind.CODE_RELEASED


def test_a_newly_embedded_paper_is_matched_after_commit(  # type: ignore[no-untyped-def]
    cast, frozen, eager_tasks, django_capture_on_commit_callbacks
) -> None:
    from tracker.papers.models import Embedding
    from tracker.papers.signals import embeddings_stored

    follow_add(member(cast.ben, cast.vision), FollowKind.KEYWORD, "world model")
    frozen.shift(60)
    paper = _new_paper(abstract="A world model for robots.")
    with django_capture_on_commit_callbacks(execute=True):
        embeddings_stored.send(sender=Embedding, paper_ids=[paper.pk])
    assert Alert.objects.get().paper_id == paper.pk
