"""The list machinery every curation list shares: a page count capped so that a list of
100,000+ rows never counts them all, a quick change list, and the URL field default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

# Curators paste links without a scheme; they are https nowadays.
URL_INPUT: Mapping[type[models.Field[Any, Any]], Mapping[str, Any]] = {
    models.URLField: {"assume_scheme": "https"}
}


def curator(request: HttpRequest) -> User:
    """The staff member acting: the admin site lets no one else reach its views."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: a curator needs "more than 1000", not the exact size of a
    filter over 100,000 papers, and a capped count stops scanning early. Pages past the cap
    are not offered (narrow the filter instead); "select all" still acts on every match."""

    CAP = 1_000

    @cached_property
    def count(self) -> int:
        # Unordered: a count needs no sort, and the database stops at the cap.
        if not isinstance(self.object_list, QuerySet):  # a list: its length is cheap
            return len(self.object_list)
        return self.object_list.order_by().values("pk")[: self.CAP].count()


class QuickRowsChangeList(ChangeList):
    """Row links that carry the list's filters themselves. Django adds the filters to each
    row's link by resolving that link's URL through the whole URLconf, once per row: on a
    filtered 50-row list that was a tenth of the page. The link and its query are the same."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.row_link_query, self.preserved_filters = self.preserved_filters, ""

    def url_for_result(self, result: Any) -> str:
        url = super().url_for_result(result)
        return f"{url}?{self.row_link_query}" if self.row_link_query else url


class QuickListMixin:
    """Cheaper rows for long change lists (same HTML): the row links above, and the action
    checkbox formatted directly. The stock checkbox renders a form widget through the
    template engine, once per row: a quarter of a 50-row list's time."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return QuickRowsChangeList

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj: Any) -> SafeString:
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" '
            'aria-label="Select this object for an action - {}">',
            ACTION_CHECKBOX_NAME,
            obj.pk,
            obj,
        )
