"""The results API: training scripts log results and move a reproduction's status.

Authenticated by a member's API token only (`Authorization: Bearer <token>`); a session
cookie is not accepted for writes, which is why the views can be CSRF-exempt. Another
team's ids answer 404, exactly like ids that do not exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from tracker.reproductions.forms import ResultForm, TransitionForm
from tracker.reproductions.models import Reproduction
from tracker.reproductions.selectors import claim_verdicts, reproduction_outcome
from tracker.reproductions.services import reproduction_transition, result_log
from tracker.teams.models import ApiToken, Membership, hash_token

View = Callable[..., HttpResponse]


def token_membership(request: HttpRequest) -> Membership | None:
    """The membership a valid, unrevoked token acts for, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    token = (
        ApiToken.objects.filter(key_hash=hash_token(raw.strip()), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    # A member who left the team loses the API with it, whatever tokens remain.
    membership = (
        Membership.objects.filter(team_id=token.team_id, user_id=token.user_id)
        .select_related("team", "user")
        .first()
    )
    if membership is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return membership


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def token_required(view: View) -> View:
    @login_not_required
    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = token_membership(request)
        if membership is None:
            return _error(401, "A valid API token is required (Authorization: Bearer ...).")
        try:
            return view(request, membership, *args, **kwargs)
        except PermissionDenied as exc:
            return _error(403, str(exc) or "Not allowed.")
        except ValidationError as exc:
            return _error(400, " ".join(exc.messages))

    return wrapped


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object.")
    return body


def _reproduction(membership: Membership, pk: int) -> Reproduction | None:
    return (
        Reproduction.objects.for_team(membership.team).select_related("paper").filter(pk=pk).first()
    )


def reproduction_json(reproduction: Reproduction) -> dict[str, Any]:
    rows = claim_verdicts(reproduction)
    return {
        "id": reproduction.pk,
        "paper": {"id": reproduction.paper_id, "title": reproduction.paper.title},
        "status": reproduction.status,
        "outcome_from_claims": reproduction_outcome(reproduction),
        "due_date": reproduction.due_date.isoformat() if reproduction.due_date else None,
        "compute_budget_gpu_hours": (
            float(reproduction.compute_budget_gpu_hours)
            if reproduction.compute_budget_gpu_hours is not None
            else None
        ),
        "compute_spent_gpu_hours": float(reproduction.compute_spent_gpu_hours),
        "claims": [
            {
                "id": claim.pk,
                "metric": claim.metric,
                "dataset": claim.dataset,
                "setting": claim.setting,
                "claimed_value": claim.claimed_value,
                "higher_is_better": claim.higher_is_better,
                "tolerance": claim.tolerance,
                "results": len(results),
                "verdict": verdict,
            }
            for claim, results, verdict in rows
        ],
    }


@token_required
@require_GET
def reproduction_get(request: HttpRequest, membership: Membership, pk: int) -> HttpResponse:
    reproduction = _reproduction(membership, pk)
    if reproduction is None:
        return _error(404, "No such reproduction.")
    return JsonResponse(reproduction_json(reproduction))


@token_required
@require_http_methods(["POST"])
def result_create(request: HttpRequest, membership: Membership, pk: int) -> HttpResponse:
    reproduction = _reproduction(membership, pk)
    if reproduction is None:
        return _error(404, "No such reproduction.")
    form = ResultForm(_json_body(request), reproduction=reproduction)
    if not form.is_valid():
        return _error(400, "Invalid result.", fields=form.errors.get_json_data())
    result = result_log(reproduction=reproduction, membership=membership, **form.cleaned_data)
    reproduction.refresh_from_db()
    return JsonResponse(
        {"id": result.pk, "reproduction": reproduction_json(reproduction)}, status=201
    )


@token_required
@require_http_methods(["POST"])
def status_change(request: HttpRequest, membership: Membership, pk: int) -> HttpResponse:
    reproduction = _reproduction(membership, pk)
    if reproduction is None:
        return _error(404, "No such reproduction.")
    body = _json_body(request)
    form = TransitionForm({"to_status": body.get("status"), "reason": body.get("reason", "")})
    if not form.is_valid():
        return _error(400, "Invalid status.", fields=form.errors.get_json_data())
    reproduction = reproduction_transition(
        reproduction=reproduction,
        membership=membership,
        to_status=form.cleaned_data["to_status"],
        reason=form.cleaned_data["reason"] or "",
    )
    return JsonResponse(reproduction_json(reproduction))


@login_not_required
def openapi(request: HttpRequest) -> HttpResponse:
    """The API's description, for a token holder or a logged-in member."""
    if not request.user.is_authenticated and token_membership(request) is None:
        return _error(401, "Log in or send an API token to read the API description.")
    if request.method not in ("GET", "HEAD"):
        return _error(405, "GET only.")
    return JsonResponse(openapi_document(request.build_absolute_uri("/api/")))


def openapi_document(server: str) -> dict[str, Any]:
    error = {"$ref": "#/components/schemas/Error"}
    reproduction = {"$ref": "#/components/schemas/Reproduction"}

    def responses(ok: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            ok: {"description": "OK", "content": {"application/json": {"schema": schema}}},
            **{
                code: {"description": text, "content": {"application/json": {"schema": error}}}
                for code, text in (
                    ("400", "Invalid input"),
                    ("401", "Missing, unknown or revoked token"),
                    ("403", "Only assignees and curators may do this"),
                    ("404", "No such reproduction in your team"),
                )
            },
        }

    pk = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Paper tracker results API",
            "version": "1",
            "description": "Log reproduction results and move a reproduction's status from "
            "a training script. Create a token on the portal's API tokens page.",
        },
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "paths": {
            "/reproductions/{id}/": {
                "get": {
                    "summary": "A reproduction, its claims and their verdicts",
                    "parameters": [pk],
                    "responses": responses("200", reproduction),
                }
            },
            "/reproductions/{id}/results/": {
                "post": {
                    "summary": "Log a result against one of the paper's claims",
                    "parameters": [pk],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ResultIn"}
                            }
                        },
                    },
                    "responses": responses(
                        "201",
                        {
                            "type": "object",
                            "properties": {"id": {"type": "integer"}, "reproduction": reproduction},
                        },
                    ),
                }
            },
            "/reproductions/{id}/status/": {
                "post": {
                    "summary": "Change the status (finishing takes the claims' outcome "
                    "unless a reason overrides it)",
                    "parameters": [pk],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/StatusIn"}
                            }
                        },
                    },
                    "responses": responses("200", reproduction),
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}, "fields": {"type": "object"}},
                    "required": ["error"],
                },
                "ResultIn": {
                    "type": "object",
                    "required": ["claim", "reproduced_value"],
                    "properties": {
                        "claim": {"type": "integer", "description": "A claim id of this paper"},
                        "reproduced_value": {"type": "number"},
                        "seeds": {"type": "array", "items": {"type": "integer"}},
                        "spread": {"type": "number", "minimum": 0},
                        "compute_gpu_hours": {"type": "number", "minimum": 0},
                        "run_url": {"type": "string", "format": "uri"},
                        "note": {"type": "string"},
                    },
                },
                "StatusIn": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {
                            "type": "string",
                            "enum": [
                                "proposed",
                                "accepted",
                                "in_progress",
                                "reproduced",
                                "partly_reproduced",
                                "not_reproduced",
                                "abandoned",
                            ],
                        },
                        "reason": {"type": "string"},
                    },
                },
                "Reproduction": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "paper": {"type": "object"},
                        "status": {"type": "string"},
                        "outcome_from_claims": {"type": ["string", "null"]},
                        "due_date": {"type": ["string", "null"], "format": "date"},
                        "compute_budget_gpu_hours": {"type": ["number", "null"]},
                        "compute_spent_gpu_hours": {"type": "number"},
                        "claims": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    }
