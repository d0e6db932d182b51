"""The results API: training scripts log results and move a reproduction's status.

Authenticated by a member's API token only (`Authorization: Bearer <token>`); a session
cookie is not accepted for writes, which is why the views can be CSRF-exempt. Another
team's ids answer 404, exactly like ids that do not exist.

Bodies are validated against the schemas in `api_schemas`, from which the OpenAPI document
is generated. Every answer is JSON, refusals included: invalid input is a 400 with one
message and per-field messages, whatever part of the request was wrong.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja import Status as Answer
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as SchemaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from tracker.reproductions.api_schemas import (
    Error,
    ReproductionOut,
    ResultCreated,
    ResultIn,
    StatusIn,
)
from tracker.reproductions.models import Claim, Reproduction
from tracker.reproductions.selectors import ClaimRow, reproduction_claim_rows
from tracker.reproductions.services import reproduction_transition, result_log
from tracker.reproductions.verdicts import PROTOCOL_FIELDS, outcome_from_verdicts
from tracker.teams.models import ApiToken, Membership, hash_token

logger = logging.getLogger(__name__)

# Primary keys are bigints: a larger id names nothing, like an id that does not exist.
ID_MAX = 2**63 - 1


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


class ApiRequest(HttpRequest):
    """A request past TokenAuth, as the type checker sees it: ninja sets `auth`."""

    auth: Membership


class TokenAuth(HttpBearer):
    """Bearer tokens, checked by `token_membership`; `request.auth` is the membership."""

    def __call__(self, request: HttpRequest) -> Membership | None:
        return token_membership(request)

    def authenticate(self, request: HttpRequest, token: str) -> Membership | None:
        return token_membership(request)


class BodyError(ValueError):
    """A body that is not a JSON object; its message is what the caller reads."""


class JsonObjectParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        try:
            body = json.loads(request.body)
        # RecursionError: a body nested thousands deep is not a server fault.
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise BodyError("The body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise BodyError("The body must be a JSON object.")
        return body


def error_response(
    status: int, message: str, fields: dict[str, list[dict[str, str]]] | None = None
) -> JsonResponse:
    body: dict[str, Any] = {"error": message}
    if fields:
        body["fields"] = fields
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


api = NinjaAPI(
    title="Paper tracker results API",
    version="1",
    description="Log reproduction results and move a reproduction's status from a training "
    "script. Create a token on the portal's API tokens page. Every refusal is JSON "
    '(`{"error": ..., "fields": {...}}`); invalid input of any kind is a 400.',
    auth=TokenAuth(),
    parser=JsonObjectParser(),
    urls_namespace="api",
    # The document is served by our own view (below): it needs a token or a login.
    openapi_url=None,
    docs_url=None,
)


def _field_name(loc: tuple[str | int, ...]) -> str:
    # ninja's locations start with the source ("body", "path") and, for a body, the
    # parameter's name; the caller knows neither.
    parts = list(loc[2:] if loc and loc[0] == "body" else loc[1:])
    return ".".join(str(part) for part in parts) or "__all__"


def _unseen_reproduction(request: HttpRequest) -> HttpResponse | None:
    """The 404 for a path naming no reproduction of the caller's team, else None.

    ninja checks the body before the operation runs; without this, a bad body sent to
    another team's id would answer 400, not the 404 every unknown id gets.
    """
    match = request.resolver_match
    membership = getattr(request, "auth", None)
    if match is None or "id" not in match.kwargs or not isinstance(membership, Membership):
        return None
    try:
        _reproduction(membership, match.kwargs["id"])
    except Http404 as exc:
        return error_response(404, str(exc))
    return None


@api.exception_handler(SchemaValidationError)
def _invalid_input(request: HttpRequest, exc: SchemaValidationError) -> HttpResponse:
    if unseen := _unseen_reproduction(request):
        return unseen
    fields: dict[str, list[dict[str, str]]] = {}
    for error in exc.errors:
        fields.setdefault(_field_name(tuple(error["loc"])), []).append(
            {"message": _plain_message(error), "code": error["type"]}
        )
    whole = fields.pop("__all__", None)
    if whole and whole[0]["code"] == "missing":
        message = "The body must be a JSON object."
    else:
        message = whole[0]["message"] if whole else "Invalid input."
    return error_response(400, message, fields)


def _plain_message(error: dict[str, Any]) -> str:
    # Our own validators' sentences, without pydantic's "Value error, " in front.
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    return str(error["msg"])


@api.exception_handler(DjangoValidationError)
def _refused_by_service(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        fields = {
            name: [{"message": message, "code": "invalid"} for message in messages]
            for name, messages in exc.message_dict.items()
        }
        return error_response(400, "Invalid input.", fields)
    return error_response(400, " ".join(exc.messages))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return unauthenticated()


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja wraps what the parser raised; its own message says more than ninja's.
    cause = exc.__cause__
    if isinstance(cause, BodyError) and (unseen := _unseen_reproduction(request)):
        return unseen
    return error_response(exc.status_code, str(cause) if isinstance(cause, BodyError) else str(exc))


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(403, str(exc) or "Not allowed.")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, str(exc) or "Not found.")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(413, "The body is larger than the API accepts.")


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Logged with its traceback for us; the caller gets one plain sentence.
    logger.exception("API error on %s %s", request.method, request.path)
    return error_response(500, "Something went wrong on our side; nothing was stored.")


def _reproduction(membership: Membership, pk: int) -> Reproduction:
    reproduction = (
        Reproduction.objects.for_team(membership.team).select_related("paper").filter(pk=pk).first()
        if 1 <= pk <= ID_MAX
        else None
    )
    if reproduction is None:
        raise Http404("No such reproduction.")
    return reproduction


def _protocol_json(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name, "") for name, _ in PROTOCOL_FIELDS}


def _claim_json(row: ClaimRow) -> dict[str, Any]:
    claim, judgement = row.claim, row.judgement
    estimate = judgement.estimate if judgement else None
    return {
        "id": claim.pk,
        "metric": claim.metric,
        "dataset": claim.dataset,
        "setting": claim.setting,
        "claimed_value": claim.claimed_value,
        "higher_is_better": claim.higher_is_better,
        "tolerance": claim.tolerance,
        "location": claim.location,
        "location_ref": claim.location_ref,
        "quote": claim.quote,
        "paper_version": claim.paper_version,
        "recheck_version": claim.recheck_version,
        "protocol": _protocol_json(claim),
        "results": len(row.results),
        "result_list": [
            {
                "id": r.result.pk,
                "reproduced_value": r.result.reproduced_value,
                "seeds": r.result.seeds,
                "spread": r.result.spread,
                "paper_version": r.result.paper_version,
                "protocol": _protocol_json(r.result),
                "protocol_match": {
                    "match": r.protocol.kind,
                    "differences": [
                        {"field": label, "result": ran, "claim": claimed}
                        for label, ran, claimed in r.protocol.differences
                    ],
                },
            }
            for r in row.results
        ],
        "verdict": row.verdict,
        "verdict_reason": judgement.reason if judgement else "",
        "mean": estimate.mean if estimate else None,
        "std": estimate.std if estimate else None,
        "n": estimate.n if estimate else 0,
        "gap_pct": judgement.gap_pct if judgement else None,
        "seeds_needed": judgement.seeds_needed if judgement else None,
    }


def reproduction_json(reproduction: Reproduction) -> dict[str, Any]:
    rows = reproduction_claim_rows(reproduction)
    return {
        "id": reproduction.pk,
        "paper": {"id": reproduction.paper_id, "title": reproduction.paper.title},
        "status": reproduction.status,
        "outcome_from_claims": outcome_from_verdicts(row.verdict for row in rows),
        "due_date": reproduction.due_date,
        "compute_budget_gpu_hours": reproduction.compute_budget_gpu_hours,
        "compute_spent_gpu_hours": reproduction.compute_spent_gpu_hours,
        "claims": [_claim_json(row) for row in rows],
    }


REFUSALS: dict[int, type[Error]] = {
    400: Error,
    401: Error,
    403: Error,
    404: Error,
    405: Error,
    413: Error,
}


@api.get(
    "/reproductions/{int:id}/",
    response={200: ReproductionOut, **REFUSALS},
    summary="A reproduction, its claims and their verdicts",
    url_name="reproduction",
)
def reproduction_get(request: ApiRequest, id: int) -> dict[str, Any]:
    return reproduction_json(_reproduction(request.auth, id))


@api.post(
    "/reproductions/{int:id}/results/",
    response={201: ResultCreated, **REFUSALS},
    summary="Log a result against one of the paper's claims",
    url_name="results",
)
def result_create(
    request: ApiRequest,
    id: int,
    payload: ResultIn,
) -> Answer[dict[str, Any]]:
    membership: Membership = request.auth
    reproduction = _reproduction(membership, id)
    # Only this paper's claims in this team: a guessed claim id is simply invalid.
    claim = (
        Claim.objects.for_team(reproduction.team)
        .filter(paper_id=reproduction.paper_id, pk=payload.claim)
        .first()
        if payload.claim <= ID_MAX
        else None
    )
    if claim is None:
        raise DjangoValidationError({"claim": "Not one of this paper's claims."})
    result = result_log(
        reproduction=reproduction,
        membership=membership,
        claim=claim,
        **payload.model_dump(exclude={"claim"}),
    )
    reproduction.refresh_from_db()
    return Answer(201, {"id": result.pk, "reproduction": reproduction_json(reproduction)})


@api.post(
    "/reproductions/{int:id}/status/",
    response={200: ReproductionOut, **REFUSALS},
    summary="Change the status (finishing takes the claims' outcome unless a reason overrides it)",
    url_name="status",
)
def status_change(
    request: ApiRequest,
    id: int,
    payload: StatusIn,
) -> dict[str, Any]:
    membership: Membership = request.auth
    reproduction = reproduction_transition(
        reproduction=_reproduction(membership, id),
        membership=membership,
        to_status=payload.status,
        reason=payload.reason,
    )
    return reproduction_json(reproduction)


@cache
def openapi_schema() -> dict[str, Any]:
    """The document generated from the operations and schemas above, built once."""
    return dict(api.get_openapi_schema(path_prefix=""))


def openapi(request: HttpRequest) -> HttpResponse:
    """The API's description, for a token holder or a logged-in member."""
    if not request.user.is_authenticated and token_membership(request) is None:
        return error_response(401, "Log in or send an API token to read the API description.")
    if request.method not in ("GET", "HEAD"):
        return error_response(405, "GET only.")
    server = request.build_absolute_uri("/api/").rstrip("/")
    return JsonResponse({**openapi_schema(), "servers": [{"url": server}]})


def unauthenticated() -> JsonResponse:
    return error_response(401, "A valid API token is required (Authorization: Bearer ...).")


def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    # Like every API call, a path that names nothing needs a token before it says so.
    if token_membership(request) is None:
        return unauthenticated()
    return error_response(404, "No such API endpoint. The API is described at /api/openapi.json.")
