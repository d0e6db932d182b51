"""What the pages give a keyboard or screen-reader user, as markup (the browser tests run
axe-core and drive the keyboard)."""

from __future__ import annotations

from tests.conftest import client_for
from tests.portal.helpers import paper_in, reproduction_underway, topic
from tracker.topics.models import Topic


def test_pages_have_a_skip_link_and_named_navs(cast) -> None:  # type: ignore[no-untyped-def]
    client = client_for(cast.ada)
    board = client.get("/reproductions/").content.decode()
    assert '<a class="skip-link" href="#main">Skip to main content</a>' in board
    assert '<main class="page" id="main" tabindex="-1">' in board
    assert '<nav class="nav" aria-label="Main">' in board
    assert '<nav class="tabs" aria-label="Whose reproductions">' in board
    # On the inbox the skip link leads past the filters, straight to the rows.
    inbox = client.get("/inbox/").content.decode()
    assert 'href="#inbox-list">Skip to main content' in inbox
    assert 'id="inbox-list" tabindex="-1"' in inbox


def test_the_keys_dialog_is_a_modal_with_a_close_button_and_a_shortcut_switch(cast) -> None:  # type: ignore[no-untyped-def]
    page = client_for(cast.ben).get("/inbox/").content.decode()
    assert '<dialog id="keys-help" class="keys-help" aria-modal="true"' in page
    assert '<form method="dialog"><button type="submit" class="close"' in page
    assert 'id="shortcuts-on"' in page
    assert 'role="status" aria-live="polite"' in page


def test_the_assignees_select_has_a_label(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast, assignee=cast.ada)
    page = client_for(cast.ada).get(f"/reproductions/{repro.pk}/").content.decode()
    assert '<label for="id_assignees">Assignees</label>' in page
    assert 'id="id_assignees"' in page


def test_the_map_lists_its_topics_for_the_keyboard(cast) -> None:  # type: ignore[no-untyped-def]
    agents = topic("LLM agents")
    paper_in(agents)
    Topic.objects.filter(pk=agents.pk).update(size=1)
    page = client_for(cast.ben).get("/topics/map/").content.decode()
    assert f'<a href="/topics/{agents.pk}/">LLM agents</a>' in page
