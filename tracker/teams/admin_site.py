"""The admin site: curators and superusers only; everyone else signed in gets a 403.

Django's stock site redirects a signed-in user without access to its login page, which
invites members to try other credentials and hides that the page exists for a reason.
A member has no business in the admin at all, so every admin URL answers 403 for them,
while anonymous visitors are still sent to log in.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar, cast

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from tracker.teams.access import user_is_curator

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class TrackerAdminSite(admin.AdminSite):
    site_header = "Paper tracker admin"
    site_title = "Paper tracker"
    index_title = "Curation"
    # The sidebar re-renders the whole app list (and its permission checks) on every page;
    # the breadcrumbs and the index do the same job at a fraction of the cost.
    enable_nav_sidebar = False

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        # is_staff alone is not enough: it could outlive the curator role that granted it.
        return user.is_superuser or user_is_curator(request)

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        inner = super().admin_view(view, cacheable)

        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied("The admin is for curators.")
            return inner(request, *args, **kwargs)

        # The wrapper takes and returns what the view does; update_wrapper cannot say so.
        return cast(View, update_wrapper(guarded, inner))

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.user.is_authenticated and not self.has_permission(request):
            raise PermissionDenied("The admin is for curators.")
        return super().login(request, extra_context)
