"""Small helpers the portal's views share."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails

_MARKER = "2147483647"


class PortalRequest(HttpRequest):
    """A portal page's request as the middleware hands it over, for the type checker.

    LoginRequiredMiddleware lets only a signed-in user reach a view not marked
    `login_not_required`, and HtmxMiddleware sets `htmx` on every request.
    """

    user: User
    htmx: HtmxDetails


def redirect_back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Back to the page a no-JS form came from, but only within this site (no open redirect)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return HttpResponseRedirect(target)


def url_for_pk(viewname: str) -> Callable[[int], str]:
    """`viewname`'s URL for any primary key, reversed once: a list page links every row,
    and reversing per row and link is most of the cost of rendering fifty rows."""
    pattern = reverse(viewname, args=[int(_MARKER)])
    return lambda pk: pattern.replace(_MARKER, str(pk))
