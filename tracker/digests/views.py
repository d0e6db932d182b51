"""Digest settings, the preview of the next digest, and the one-click unsubscribe."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from tracker.core.http import PortalRequest
from tracker.digests.emails import unsubscribe_user_id
from tracker.digests.forms import DigestPreferenceForm
from tracker.digests.schedule import zone
from tracker.digests.services import (
    digest_preview,
    preference_get_or_create,
    preference_unsubscribe,
    preference_update,
)

# The email as sent, shown inside the preview page: nothing runs, nothing loads from
# elsewhere, and only our own pages may frame it.
EMAIL_FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


@require_http_methods(["GET", "POST"])
def digest_settings(request: PortalRequest) -> HttpResponse:
    pref = preference_get_or_create(request.user)
    if request.method == "POST":
        form = DigestPreferenceForm(request.POST)
        if form.is_valid():
            preference_update(
                request.user,
                enabled=form.cleaned_data["enabled"],
                weekday=form.cleaned_data["weekday"],
                hour=form.cleaned_data["hour"],
                tz_name=form.cleaned_data["timezone"],
            )
            messages.success(request, "Digest settings saved.")
            return redirect("digests:settings")
    else:
        form = DigestPreferenceForm(
            initial={
                "enabled": pref.enabled,
                "weekday": pref.weekday,
                "hour": pref.hour,
                "timezone": pref.timezone,
            }
        )
    next_local = pref.next_send_at.astimezone(zone(pref.timezone)) if pref.next_send_at else None
    return render(
        request,
        "digests/settings.html",
        {"form": form, "pref": pref, "next_local": next_local},
    )


@require_GET
def digest_preview_page(request: PortalRequest) -> HttpResponse:
    digest, rendered = digest_preview(request.user)
    return render(
        request,
        "digests/preview.html",
        {"digest": digest, "rendered": rendered, "recipient": request.user.email},
    )


@require_GET
@xframe_options_sameorigin
def digest_preview_email(request: PortalRequest) -> HttpResponse:
    """The HTML part byte for byte as a send now would deliver it (?part=text: the text)."""
    _, rendered = digest_preview(request.user)
    if request.GET.get("part") == "text":
        response = HttpResponse(rendered.text, content_type="text/plain; charset=utf-8")
    elif request.GET.get("framed"):
        # Inside the preview page, links open in the whole window: portal pages refuse to
        # be framed. Nothing else differs from the HTML that is sent.
        response = HttpResponse(rendered.html.replace("<head>", '<head><base target="_top">', 1))
    else:
        response = HttpResponse(rendered.html)
    response.headers["Content-Security-Policy"] = EMAIL_FRAME_CSP
    return response


@login_not_required
# The token in the URL authenticates this POST, and mail clients' one-click unsubscribe
# (RFC 8058) posts without any cookie, so there is no CSRF token to check.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user_id = unsubscribe_user_id(token)
    except signing.SignatureExpired:
        return render(request, "digests/unsubscribe.html", {"state": "expired"}, status=410)
    except (signing.BadSignature, ValueError):
        return render(request, "digests/unsubscribe.html", {"state": "invalid"}, status=400)
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return render(request, "digests/unsubscribe.html", {"state": "invalid"}, status=400)
    if request.method == "POST":
        preference_unsubscribe(user, timezone.now())
        return render(request, "digests/unsubscribe.html", {"state": "done", "email": user.email})
    return render(request, "digests/unsubscribe.html", {"state": "confirm", "email": user.email})
