"""The inbox and the triage actions; every action answers htmx with a fragment, else redirects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from tracker.core.http import PortalRequest, redirect_back, url_for_pk
from tracker.papers.export import EXPORT_LIMIT, export_format, papers_export
from tracker.papers.models import Paper
from tracker.teams.models import Membership
from tracker.teams.selectors import require_membership
from tracker.teams.services import absence_delete, team_readers_set
from tracker.topics.models import Topic
from tracker.triage.forms import (
    CommentForm,
    DaysAwayForm,
    InboxFilterForm,
    RatingForm,
    ReadersForm,
)
from tracker.triage.models import Assignment, Comment
from tracker.triage.selectors import (
    DISPUTE_RANGE,
    INBOX_SORTS,
    INBOX_VIEWS,
    PICK_MEAN,
    SORT_LABELS,
    Inbox,
    InboxRow,
    inbox_build,
    inbox_next,
    inbox_papers,
    inbox_row,
    inbox_row_of,
    inbox_versions,
    rating_summary,
    row_links,
    share_left,
    share_overview,
    team_picks,
)
from tracker.triage.services import (
    comment_create,
    comment_delete,
    comment_edit,
    not_interested_set,
    rating_set,
    skip_create,
    topic_follow_set,
    triage_undo,
)
from tracker.triage.sharing import (
    assignment_reassign,
    days_away_add,
    shares_rebalance,
)

# The inbox lists this many of the team's picks above the papers; the picks page has all.
PICKS_ON_INBOX = 5
# What the comment form's own checks refuse (CommentForm: required, at most 5000 characters).
COMMENT_REFUSED = "A comment needs some text (at most 5000 characters)."


def _follow_urls(data: Inbox) -> None:
    """Each topic facet's follow action, reversed once for the page."""
    follow_url = url_for_pk("triage:follow")
    for group in data.topic_counts:
        if group.topic_id:
            group.follow_url = follow_url(group.topic_id)


def _row(request: HttpRequest, row: InboxRow) -> HttpResponse:
    """One row of the inbox, as htmx swaps it in after an action (jinja2/triage/_rows.html,
    the template of the page's rows)."""
    return render(request, "triage/_rows.html", {"rows": [row]}, using="jinja2")


def _after(request: HttpRequest) -> Paper | None:
    """The paper ?after= names ("Load more": the page after it), with its topic."""
    after_id = request.GET.get("after", "")
    if not (after_id.isdigit() and len(after_id) < 19):  # a bigint, not just digits
        return None
    return Paper.objects.select_related("paper_topic").filter(pk=int(after_id)).first()


def _offset(request: HttpRequest) -> int:
    """The rank position ?offset= names ("Load more" in a ranked order); 0 when bad."""
    offset = request.GET.get("offset", "")
    return int(offset) if offset.isdigit() and len(offset) < 7 else 0


def _shown(request: HttpRequest) -> frozenset[int]:
    """The rows already on the page (?shown=, which "Load more" sends in a ranked order)."""
    return frozenset(
        int(pk) for pk in request.GET.getlist("shown")[:5000] if pk.isdigit() and len(pk) < 19
    )


def _sort_orders(query: dict[str, str]) -> list[tuple[str, str, str]]:
    """Each sort order with its link, which keeps the other filters."""
    others = {k: v for k, v in query.items() if k != "order"}
    return [
        (value, label, urlencode(others | ({"order": value} if value != INBOX_SORTS[0] else {})))
        for value, label in SORT_LABELS.items()
    ]


def _more_query(query: dict[str, str], data: Inbox) -> str:
    """The "Load more" link's query: the filters and where the next page starts, by the
    last row (newest) or by rank position (ranked orders); empty at the end."""
    more: dict[str, str | int] = dict(query)
    if data.more_after is not None:
        return urlencode(more | {"after": data.more_after})
    if data.more_offset is not None:
        return urlencode(more | {"offset": data.more_offset})
    return ""


@require_GET
def inbox(request: PortalRequest) -> HttpResponse:
    membership = require_membership(request)
    form = InboxFilterForm(request.GET or None)
    filters = form.filters()
    # The member's share first: their inbox opens on it while any of it is left to read.
    # ("Load more" and exports name their view; without one they are of everything.)
    fmt = export_format(request)
    paging = "after" in request.GET or "offset" in request.GET
    if fmt:
        papers = inbox_papers(membership, filters)
        if filters.topic:
            papers = papers.filter(paper_topic__topic_id=filters.topic)
        return papers_export(papers[:EXPORT_LIMIT], fmt, "inbox")
    # What the member did and the team rated, in one query: the keys of the kept load,
    # share count and picks.
    versions = inbox_versions(membership)
    left = share_left(membership, versions) if not paging else 0
    if not filters.view and left:
        filters = replace(filters, view="share")
    data = inbox_build(
        membership,
        filters,
        after=_after(request),
        offset=_offset(request),
        shown=_shown(request),
        versions=versions,
    )
    query = filters.as_query()
    context = {"inbox": data, "more_query": _more_query(query, data)}
    if request.htmx and ("after" in request.GET or "offset" in request.GET):
        # "Load more": the next rows and the link after them, appended in place.
        return render(request, "triage/_page.html", context)
    _follow_urls(data)
    others = {k: v for k, v in query.items() if k != "view"}
    return render(
        request,
        "triage/inbox.html",
        {
            **context,
            "share_left": left,
            "view_urls": {view: urlencode(others | {"view": view}) for view in INBOX_VIEWS},
            "picks": team_picks(membership.team, membership.user_id, versions).picks[
                :PICKS_ON_INBOX
            ],
            "form": form,
            "filters": filters,
            "query": query,
            "export_query": urlencode(query),
            "facet_query": urlencode({k: v for k, v in query.items() if k != "topic"}),
            "sort_orders": _sort_orders(query),
            "narrowed": bool(set(query) - {"order", "view"}),
            "next_url": request.get_full_path(),
        },
    )


@require_GET
def next_paper(request: PortalRequest) -> HttpResponse:
    """Go to the paper the inbox lists after ?after= (the paper page's n key), within the
    inbox's filters; back to the inbox when none is left."""
    membership = require_membership(request)
    filters = InboxFilterForm(request.GET).filters()
    found = inbox_next(membership, filters, _after(request))
    query = urlencode(filters.as_query())
    suffix = "?" + query if query else ""
    if found is None:
        narrowed = set(filters.as_query()) - {"order", "view"}  # these leave every paper in
        messages.info(
            request, "Nothing left to triage" + (" with these filters." if narrowed else ".")
        )
        return redirect(reverse("triage:inbox") + suffix)
    return redirect(reverse("papers:detail", args=[found]) + suffix)


@require_POST
def rate(request: PortalRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    paper = get_object_or_404(Paper.objects.visible(), pk=pk)
    form = RatingForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return HttpResponse("A rating is a value from 1 to 5.", status=400)
        messages.error(request, "A rating is a value from 1 to 5.")
        return redirect_back(request, reverse("papers:detail", args=[paper.pk]))
    rating = rating_set(
        team=membership.team,
        paper=paper,
        user=request.user,
        value=form.cleaned_data["value"],
        # A key or button that sends no note keeps the note; an emptied note box clears it.
        note=form.cleaned_data["note"] if "note" in request.POST else None,
    )
    if request.htmx:
        if request.POST.get("context") == "panel":
            summary = rating_summary(membership.team, paper, request.user)
            return render(
                request, "triage/_ratings_panel.html", {"paper": paper, "summary": summary}
            )
        row = inbox_row(
            paper,
            row_links()(paper.pk),
            done=f"Rated {rating.value}",
            value=rating.value,
            note=rating.note,
        )
        return _row(request, row)
    messages.success(request, f"Rated “{paper.title[:60]}” {rating.value}.")
    return redirect_back(request, reverse("papers:detail", args=[paper.pk]))


def _pass_over(
    request: PortalRequest, pk: int, passing: Callable[..., object], done: str, said: str
) -> HttpResponse:
    """A skip or a "not interested": the paper leaves my inbox; htmx gets its done row."""
    membership = require_membership(request)
    paper = get_object_or_404(Paper.objects.visible(), pk=pk)
    passing(team=membership.team, paper=paper, user=request.user)
    if request.htmx:
        row = inbox_row(paper, row_links()(paper.pk), done=done)
        return _row(request, row)
    if said:
        messages.success(request, said.format(title=paper.title[:60]))
    return redirect_back(request, reverse("triage:inbox"))


@require_POST
def skip(request: PortalRequest, pk: int) -> HttpResponse:
    return _pass_over(request, pk, skip_create, "Skipped", "")


@require_POST
def not_interested(request: PortalRequest, pk: int) -> HttpResponse:
    """Not interested: out of my inbox, and papers like it rank lower for me (u undoes)."""
    return _pass_over(
        request,
        pk,
        not_interested_set,
        "Not interested",
        "Not interested in “{title}”: fewer like it.",
    )


@require_GET
def picks(request: PortalRequest) -> HttpResponse:
    """The team's picks and the papers its raters disagree on."""
    membership = require_membership(request)
    return render(
        request,
        "triage/picks.html",
        {
            "picks": team_picks(membership.team, membership.user_id),
            "dispute_range": DISPUTE_RANGE,
            "pick_mean": f"{PICK_MEAN:g}",
        },
    )


@require_GET
def share(request: PortalRequest) -> HttpResponse:
    """How the team shares its reading: the setting, each member's unread share, my days
    away; for curators, the rebalance and the moving of one share."""
    membership = require_membership(request)
    overview = share_overview(membership, with_open_shares=membership.is_curator)
    return render(
        request,
        "triage/share.html",
        {
            "overview": overview,
            "membership": membership,
            "readers_form": ReadersForm(
                initial={
                    "readers": overview.readers_per_paper or "",
                    "everyone": not overview.readers_per_paper,
                }
            ),
            "away_form": DaysAwayForm(),
        },
    )


def _curator(request: PortalRequest) -> Membership | None:
    """The membership of a curator; for anyone else a message and None."""
    membership = require_membership(request)
    if membership.is_curator:
        return membership
    messages.error(request, "Only the team's curators can change how the team shares papers.")
    return None


def _form_errors(request: PortalRequest, form: forms.Form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))


@require_POST
def share_readers(request: PortalRequest) -> HttpResponse:
    membership = _curator(request)
    if membership is not None:
        form = ReadersForm(request.POST)
        if form.is_valid():
            readers = None if form.cleaned_data["everyone"] else form.cleaned_data["readers"]
            team_readers_set(team=membership.team, readers=readers)
            messages.success(
                request,
                "Every member reads every new paper."
                if readers is None
                else f"Each new paper goes to {readers} member{'s' if readers != 1 else ''}.",
            )
        else:
            _form_errors(request, form)
    return redirect("triage:share")


@require_POST
def share_rebalance(request: PortalRequest) -> HttpResponse:
    membership = _curator(request)
    if membership is not None:
        made = shares_rebalance(membership.team_id)
        messages.success(request, f"Unread shares given out again: {made}.")
    return redirect("triage:share")


@require_POST
def share_reassign(request: PortalRequest, pk: int) -> HttpResponse:
    membership = _curator(request)
    if membership is None:
        return redirect("triage:share")
    assignment = get_object_or_404(
        Assignment.objects.for_team(membership.team).select_related("paper"), pk=pk
    )
    to_user = (
        Membership.objects.filter(team=membership.team, user_id=request.POST.get("user", "0"))
        .select_related("user")
        .first()
        if request.POST.get("user", "").isdigit()
        else None
    )
    if to_user is None:
        messages.error(request, "Choose a member of the team.")
        return redirect("triage:share")
    try:
        assignment_reassign(assignment=assignment, to_user=to_user.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"“{assignment.paper.title[:60]}” moved to {to_user.user.get_username()}."
        )
    return redirect("triage:share")


@require_POST
def days_away(request: PortalRequest) -> HttpResponse:
    """Add days away, or take some back (the delete button names them)."""
    membership = require_membership(request)
    if "delete" in request.POST:
        absence_id = request.POST.get("delete", "")
        if absence_id.isdigit() and absence_delete(
            membership=membership, absence_id=int(absence_id)
        ):
            messages.success(request, "Days away taken back.")
        return redirect("triage:share")
    form = DaysAwayForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("triage:share")
    try:
        days_away_add(
            membership=membership,
            starts=form.cleaned_data["starts"],
            ends=form.cleaned_data["ends"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Days away saved: no new papers come to you then.")
    return redirect("triage:share")


def _own_comment(request: HttpRequest, pk: int) -> Comment:
    """A comment of the member's, in the team the request acts for; anyone else's is 404."""
    membership = require_membership(request)
    return get_object_or_404(Comment.objects.for_team(membership.team), pk=pk, user=request.user)


@require_POST
def comment_update(request: PortalRequest, pk: int) -> HttpResponse:
    """Edit my comment, or delete it (the form's delete button)."""
    comment = _own_comment(request, pk)
    back = reverse("papers:detail", args=[comment.paper_id]) + "#comments"
    if "delete" in request.POST:
        comment_delete(comment=comment)
        messages.success(request, "Comment deleted.")
        return redirect_back(request, back)
    form = CommentForm(request.POST)
    if not form.is_valid():
        # The comment stays as it was; the message says why the edit was refused.
        messages.error(request, COMMENT_REFUSED)
        return redirect_back(request, back)
    try:
        comment_edit(comment=comment, body=form.cleaned_data["body"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect_back(request, back)


@require_POST
def undo(request: PortalRequest, pk: int) -> HttpResponse:
    """Take back my rating or skip: the paper is back in my inbox, and with htmx its row
    is back in place with its buttons."""
    membership = require_membership(request)
    paper = get_object_or_404(Paper.objects.visible(), pk=pk)
    undone = triage_undo(team=membership.team, paper=paper, user=request.user)
    if request.htmx:
        return _row(request, inbox_row_of(membership, paper))
    if undone:
        messages.success(request, f"“{paper.title[:60]}” is back in your inbox.")
    return redirect_back(request, reverse("triage:inbox"))


@require_POST
def follow(request: PortalRequest, pk: int) -> HttpResponse:
    topic = get_object_or_404(Topic.objects.active(), pk=pk)
    following = request.POST.get("follow", "1") == "1"
    topic_follow_set(user=request.user, topic=topic, follow=following)
    messages.success(
        request, f"{'Following' if following else 'No longer following'} “{topic.label}”."
    )
    return redirect_back(request, reverse("triage:inbox"))


@require_POST
def comment(request: PortalRequest, pk: int) -> HttpResponse:
    membership = require_membership(request)
    paper = get_object_or_404(Paper.objects.visible(), pk=pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            comment_create(
                team=membership.team, paper=paper, user=request.user, body=form.cleaned_data["body"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, COMMENT_REFUSED)
    return redirect_back(request, reverse("papers:detail", args=[paper.pk]) + "#comments")
