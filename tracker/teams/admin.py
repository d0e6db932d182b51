from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from tracker.teams.access import curated_team_ids, curated_users
from tracker.teams.admin_scope import ScopedModelAdmin
from tracker.teams.models import ApiToken, Invitation, Membership, Team
from tracker.teams.services import invitations_renew, membership_remove, membership_set_role

User = get_user_model()


class MembershipInline(admin.TabularInline):
    """Read-only here: roles change through the Membership admin, which syncs admin access."""

    model = Membership
    extra = 0
    fields = readonly_fields = ("user", "role", "joined_at")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "members_link", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=curated_team_ids(request))

    @admin.display(description="Members")
    def members_link(self, team: Team) -> str:
        url = reverse("admin:teams_membership_changelist") + f"?team__id__exact={team.pk}"
        return format_html('<a href="{}">Manage members</a>', url)


@admin.register(Membership)
class MembershipAdmin(ScopedModelAdmin):
    list_display = ["user", "team", "role", "joined_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "user__email", "team__name"]
    list_select_related = ["user", "team"]
    autocomplete_fields = ["user"]
    fields = ["team", "user", "role"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Moving a membership to another user or team would leave the old one's access stale.
        return ["team", "user"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        saved = membership_set_role(team=obj.team, user=obj.user, role=obj.role)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("user"):
            membership_remove(membership)


@admin.register(Invitation)
class InvitationAdmin(ScopedModelAdmin):
    list_display = [
        "email",
        "team",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
    ]
    list_filter = ["team", "role"]
    list_select_related = ["team", "invited_by"]
    search_fields = ["email"]
    fields = ["team", "email", "role", "accept_link", "invited_by", "accepted_at"]
    readonly_fields = ["accept_link", "invited_by", "accepted_at"]

    actions = ["renew"]

    @admin.action(description="Renew: a new link with a new expiry (the old link stops working)")
    def renew(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        renewed = invitations_renew(queryset)
        self.message_user(request, f"{renewed} invitation(s) renewed; send the new links.")

    @admin.display(description="Link to send")
    def accept_link(self, invitation: Invitation) -> str:
        if not invitation.pk:
            return "Shown once the invitation is saved."
        return reverse("teams:invitation_accept", args=[invitation.token])

    def save_model(self, request: HttpRequest, obj: Invitation, form: Any, change: bool) -> None:
        # The admin lets in only signed-in staff; the check tells the type checker so.
        if not change and request.user.is_authenticated:
            obj.invited_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedModelAdmin):
    list_display = ["name", "user", "team", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["team"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
    list_select_related = ["user", "team"]


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Curators may look up the members of the teams they curate (to give one a role in
    another of them); only superusers see every account and change accounts."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Also the autocomplete's source, so a search never reaches other teams' people.
        queryset: QuerySet[Any] = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=curated_users(request).values("pk"))

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        user = super().get_object(request, object_id, from_field)
        if user is None:
            # Not found and not theirs look the same: neither says whether the account exists.
            raise Http404("No such user.")
        return user

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser
