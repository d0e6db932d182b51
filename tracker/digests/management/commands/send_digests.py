"""Send the weekly digests that are due, or one member's now, for operators."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tracker.digests.schedule import week_of
from tracker.digests.selectors import digest_week
from tracker.digests.services import (
    RETRYABLE_ERRORS,
    digest_preview,
    digest_send,
    digests_claim_due,
    preference_get_or_create,
    preferences_ensure,
)


class Command(BaseCommand):
    help = (
        "Send the digests that are due (as the beat tick does, but in this process). "
        "--now sends this week's digest to every subscribed member (or --user) whatever "
        "their schedule; a member still gets at most one per week."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Only this member (username, email or id).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Build and show subjects; send and record nothing.",
        )
        parser.add_argument(
            "--now", action="store_true", help="Do not wait for each member's day and hour."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        User = get_user_model()
        if options["user"]:
            users = list(self._find(options["user"]))
        else:
            users = list(
                User.objects.filter(is_active=True, memberships__isnull=False)
                .exclude(email="")
                .distinct()
                .order_by("pk")
            )

        # Read once for the whole run: the corpus-wide part and each team's part.
        shared = digest_week(now)
        if options["dry_run"]:
            for user in users:
                digest, rendered = digest_preview(user, now, shared=shared)
                line = "(empty: nothing would be sent)" if digest.is_empty else rendered.subject
                self.stdout.write(f"{user.get_username()} <{user.email}>: {line}")
            return

        if options["now"]:
            preferences_ensure(now)
            claimed = []
            for user in users:
                pref = preference_get_or_create(user, now)
                claimed.append((user.pk, week_of(now, pref.timezone)))
        else:
            only = [user.pk for user in users] if options["user"] else None
            claimed = [(c.user_id, c.week) for c in digests_claim_due(now, user_ids=only)]

        counts: dict[str, int] = {}
        for user_id, week in claimed:
            try:
                send = digest_send(user_id, week, now, shared)
            except RETRYABLE_ERRORS as exc:
                self.stderr.write(f"user {user_id}: not sent ({exc}); rerun to retry")
                counts["failed"] = counts.get("failed", 0) + 1
                continue
            status = send.status if send else "skipped"
            counts[status] = counts.get(status, 0) + 1
            if send and send.status == "sent":
                self.stdout.write(f"sent to user {user_id} for week {week}: {send.subject}")
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none due"
        self.stdout.write(f"digests: {summary}")

    def _find(self, ref: str) -> Any:
        User = get_user_model()
        query = User.objects.filter(username=ref) | User.objects.filter(email=ref)
        if ref.isdigit():
            query = query | User.objects.filter(pk=int(ref))
        if not query.exists():
            raise CommandError(f"no user {ref!r}")
        return query.distinct()
