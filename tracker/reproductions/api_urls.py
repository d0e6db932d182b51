"""The API's URLs: ninja's operations, the OpenAPI document, and JSON for every other path.

Every view here is public to the login middleware (the API checks its own tokens) and
CSRF-exempt (a session cookie never authorises a write), and answers JSON whatever happens,
a wrong method or an unknown path included.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, re_path
from django.views.decorators.csrf import csrf_exempt

from tracker.reproductions import api

app_name = "api"

View = Callable[..., HttpResponse]


def _api_view(view: View) -> View:
    @login_not_required
    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        # ninja answers a wrong method with a plain-text 405, before it checks the token;
        # callers of a JSON API get JSON, and without a token the 401 every call gets.
        if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
            if api.token_membership(request) is None:
                return api.unauthenticated()
            allowed = response.get("Allow", "")
            refusal = api.error_response(405, f"This endpoint accepts {allowed} only.")
            refusal["Allow"] = allowed
            return refusal
        return response

    return wrapped


def _operations() -> list[URLPattern]:
    patterns = []
    for pattern in api.api.urls[0]:
        # ninja's own root page is not ours: an unknown path answers the JSON 404 below.
        if isinstance(pattern, URLPattern) and pattern.name != "api-root":
            pattern.callback = _api_view(pattern.callback)
            patterns.append(pattern)
    return patterns


urlpatterns = [
    path("openapi.json", _api_view(api.openapi), name="openapi"),
    *_operations(),
    re_path(r"^(?P<path>.*)$", _api_view(api.not_found), name="not_found"),
]
