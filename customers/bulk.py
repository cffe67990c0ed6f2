"""Bulk changes of designated support contacts: a preview, then chunks, then an undo.

A preview writes the operation's rows (`BulkItem`): each subscription asked for, where it should
go and the version it had then, in one INSERT ... SELECT whatever their number. Submitting runs
the rows in chunks of `CHUNK`, each in a transaction of its own and in a fixed number of
statements: the locks single changes take, in their order (the partnerships, the customer
relationships, then the subscriptions, each in primary-key order), eligibility decided again
against the locked rows, rows changed since the preview skipped and reported, one history row
per change, every row's outcome written. An operation of more than `BACKGROUND_ABOVE` rows runs
on the task queue (customers/tasks.py); its state is in the database, so a worker that dies is
replaced by the next one to pick the task or the sweep (`bulk_operations_resume`).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.eligibility import NotACandidate, Standings, standings, with_relationship_of
from customers.models import (
    BulkItem,
    BulkOperation,
    BulkOutcome,
    CommerceType,
    SkipReason,
    Subscription,
    SupportContactChange,
)
from customers.services import support_contacts_changed
from events.models import EventType
from events.services import event_record
from partnercenter.errors import DomainError
from partnercenter.models import Partner, User
from partnercenter.policy import Action
from partnercenter.tracing import acting_for

CHUNK = 500
BACKGROUND_ABOVE = 1000
UNDO_WINDOW = timedelta(hours=24)
# A queued or running operation that has not moved for this long has lost its worker.
STALLED_AFTER = timedelta(minutes=2)
# Previews nobody submitted are dropped after this long (their rows are not history).
PREVIEW_KEPT = timedelta(days=1)


class BulkRefused(DomainError):
    """The operation cannot be submitted or undone (any more); nothing was changed."""


# The preview --------------------------------------------------------------------------------


def bulk_preview_create(
    *, by: User, subscriptions: Q, contact: Partner, criteria: dict
) -> BulkOperation:
    """A preview of making `contact` the designated contact of the subscriptions `by` may
    assign among those `subscriptions` selects, with the version each has now."""
    chosen = (
        Subscription.objects.restrict(by, Action.ASSIGN)
        .filter(subscriptions)
        .order_by("customer__name", "offer_name", "pk")  # the rows' order on every page
    )
    with transaction.atomic():
        _previews_forgotten(by)
        operation = BulkOperation.objects.create(
            provider_id=by.partner_id, contact=contact, created_by=by, criteria=criteria
        )
        operation.total = _items_insert(
            operation,
            chosen.values("pk", "version"),
            subscription="pk",
            to_contact=contact.pk,
            expected_version="version",
        )
        operation.save(update_fields=["total"])
    return operation


def _previews_forgotten(by: User) -> None:
    BulkOperation.objects.filter(
        created_by=by,
        state=BulkOperation.State.PREVIEW,
        created_at__lt=timezone.now() - PREVIEW_KEPT,
    ).delete()


def _items_insert(
    operation: BulkOperation, rows: QuerySet, *, subscription: str, to_contact, expected_version
) -> int:
    """Insert one row of `operation` per row of `rows` (a values() queryset), in one statement:
    `subscription` and `expected_version` name its columns, `to_contact` is a column or an id."""
    sql, params = rows.query.sql_with_params()
    contact_sql, contact_params = (
        ("%s", [to_contact]) if isinstance(to_contact, int) else (f"chosen.{to_contact}", [])
    )
    table = BulkItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} "  # names from the models, values as parameters
            "(operation_id, subscription_id, to_contact_id, expected_version, outcome, reason) "
            f"SELECT %s, chosen.{subscription}, {contact_sql}, chosen.{expected_version}, %s, %s "
            f"FROM ({sql}) chosen",
            [operation.pk, *contact_params, BulkOutcome.PENDING, "", *params],
        )
        return cursor.rowcount


@dataclass(frozen=True)
class PreviewRow:
    item: BulkItem
    outcome: str  # BulkOutcome
    reason: str  # a SkipReason label, or ""


@dataclass(frozen=True)
class Preview:
    total: int
    to_change: int
    unchanged: int
    skipped: list[tuple[str, int]]  # (reason, count), most first
    rows: list[PreviewRow]

    @property
    def skipped_count(self) -> int:
        return sum(count for _reason, count in self.skipped)


def bulk_preview(operation: BulkOperation, *, rows: int = 25) -> Preview:
    """What submitting `operation` would do now, decided as Submit decides (`_decision`), but
    without locks: its counts, from its rows grouped by what the rule reads (a few groups), and
    its first `rows` rows. Three statements, whatever its size."""
    contact = operation.contact_id
    known = standings(operation.provider_id, [contact], [], lock=False)
    items = with_relationship_of(
        BulkItem.objects.filter(operation=operation), contact, "subscription__customer"
    )

    def decided(commerce_type, current, relationship_state, delegated_admin):
        return _decision(
            commerce_type,
            current,
            contact,
            lambda: known.reason_given(contact, relationship_state, delegated_admin),
        )

    counts: dict[tuple[str, str], int] = {}
    groups = items.values(
        "relationship_state",
        "relationship_delegated_admin",
        commerce_type=F("subscription__commerce_type"),
        current=_CURRENT,
    ).annotate(n=Count("pk"))
    for group in groups.order_by():
        outcome = decided(
            group["commerce_type"],
            group["current"],
            group["relationship_state"],
            group["relationship_delegated_admin"],
        )
        counts[outcome] = counts.get(outcome, 0) + group["n"]
    first = items.select_related(
        "subscription__customer", "subscription__support_contact", "subscription__provider"
    ).order_by("pk")[:rows]
    return Preview(
        total=sum(counts.values()),
        to_change=counts.get((BulkOutcome.CHANGED, ""), 0),
        unchanged=counts.get((BulkOutcome.UNCHANGED, ""), 0),
        skipped=sorted(
            (
                (SkipReason(reason).label, n)
                for (outcome, reason), n in counts.items()
                if outcome == BulkOutcome.SKIPPED
            ),
            key=lambda pair: -pair[1],
        ),
        rows=[
            PreviewRow(
                item,
                *_label(
                    *decided(
                        item.subscription.commerce_type,
                        item.subscription.support_contact_id or item.subscription.provider_id,
                        item.relationship_state,
                        item.relationship_delegated_admin,
                    )
                ),
            )
            for item in first
        ],
    )


_CURRENT = Coalesce("subscription__support_contact_id", "subscription__provider_id")


def _label(outcome: str, reason: str) -> tuple[str, str]:
    return outcome, SkipReason(reason).label if reason else ""


# Submitting and running --------------------------------------------------------------------


def bulk_operation_submit(*, operation_id: int, by: User) -> BulkOperation:
    """Run the previewed operation: now when it is small, else on the task queue."""
    with transaction.atomic():
        operation = _locked(operation_id, by)
        if operation.state != BulkOperation.State.PREVIEW:
            raise BulkRefused(_("This bulk change was already submitted; nothing was changed."))
        if operation.created_by_id != by.pk:
            raise BulkRefused(_("Only the person who prepared this bulk change can submit it."))
        _queue(operation)
    if operation.total <= BACKGROUND_ABOVE:
        bulk_operation_run(operation.pk)
        operation.refresh_from_db()
    return operation


def _locked(operation_id: int, by: User) -> BulkOperation:
    operation = (
        BulkOperation.objects.restrict(by, Action.ASSIGN)
        .select_for_update(of=("self",))
        .filter(pk=operation_id)
        .first()
    )
    if operation is None:
        raise BulkRefused(_("You may not change this bulk change."))
    return operation


def _queue(operation: BulkOperation) -> None:
    """Mark `operation` queued, and give it to a worker once that is committed (large ones)."""
    now = timezone.now()
    operation.state, operation.submitted_at, operation.progressed_at = (
        BulkOperation.State.QUEUED,
        now,
        now,
    )
    operation.save(update_fields=["state", "submitted_at", "progressed_at"])
    if operation.total > BACKGROUND_ABOVE:
        transaction.on_commit(lambda: _enqueue(operation.pk))


def _enqueue(operation_id: int) -> None:
    from customers.tasks import run_bulk_operation  # the tasks module imports this one

    run_bulk_operation.enqueue(operation_id)


def bulk_operation_run(operation_id: int) -> None:
    """Run every chunk left of the operation (a worker, or a request for a small one)."""
    while bulk_operation_run_chunk(operation_id):
        pass


def bulk_operation_run_chunk(operation_id: int, *, size: int | None = None) -> bool:
    """Apply the next `size` rows of the operation in one transaction; False when none is left.
    Two workers on one operation take turns: the operation's row is locked first."""
    with transaction.atomic():
        operation = (
            BulkOperation.objects.select_for_update(of=("self",))
            .select_related("created_by__partner")
            .filter(pk=operation_id)
            .first()
        )
        if operation is None or operation.state not in (
            BulkOperation.State.QUEUED,
            BulkOperation.State.RUNNING,
        ):
            return False
        acting_for(operation.created_by)  # in a worker, its log lines name the author
        items = list(
            BulkItem.objects.filter(operation=operation, outcome=BulkOutcome.PENDING)
            .annotate(customer_id=F("subscription__customer_id"))
            .only("pk", "subscription_id", "to_contact_id", "expected_version")
            .order_by("subscription_id")[: size or CHUNK]
        )
        if not items:
            _finish(operation)
            return False
        known = standings(
            operation.provider_id,
            (i.to_contact_id for i in items),
            (i.customer_id for i in items),
            lock=True,
        )
        locked = {
            s.pk: s
            for s in Subscription.objects.restrict(operation.created_by, Action.ASSIGN)
            .select_for_update(of=("self",))
            .filter(pk__in=[i.subscription_id for i in items])
            .only("pk", "version", "support_contact_id", "provider_id", "commerce_type")
            .order_by("pk")
        }
        decided = [
            (item, _decided(item, locked.get(item.subscription_id), known)) for item in items
        ]
        changed = [
            (item, locked[item.subscription_id])
            for item, (o, _r) in decided
            if o == BulkOutcome.CHANGED
        ]
        _apply(operation, changed)
        _record_outcomes(decided)
        _count(operation, decided)
    return True


def _decided(item: BulkItem, subscription, known: Standings) -> tuple[str, str]:
    """What becomes of one row at Submit, against the locked rows."""
    if subscription is None:
        return BulkOutcome.SKIPPED, SkipReason.NO_ACCESS
    if subscription.version != item.expected_version:
        return BulkOutcome.SKIPPED, SkipReason.CHANGED_SINCE
    return _decision(
        subscription.commerce_type,
        subscription.support_contact_id or subscription.provider_id,
        item.to_contact_id,
        lambda: known.reason(item.to_contact_id, item.customer_id),
    )


def _decision(commerce_type, current, to_contact_id, reason) -> tuple[str, str]:
    """The one place a row of a bulk change is judged (at the preview and at Submit): skipped
    with its reason, unchanged, or changed. `reason()` is the eligibility rule's answer for the
    row (`Standings`)."""
    if commerce_type != CommerceType.LEGACY:
        return BulkOutcome.SKIPPED, SkipReason.NEW_COMMERCE
    if current == to_contact_id:
        return BulkOutcome.UNCHANGED, ""
    try:
        why = reason()
    except NotACandidate:
        return BulkOutcome.SKIPPED, SkipReason.NOT_A_RESELLER
    return (BulkOutcome.SKIPPED, why.value) if why else (BulkOutcome.CHANGED, "")


def _apply(operation: BulkOperation, changed: list) -> None:
    """One history row per change, and the subscriptions updated in one statement."""
    if not changed:
        return
    changes = SupportContactChange.objects.bulk_create(
        SupportContactChange(
            subscription_id=s.pk,
            from_contact_id=s.support_contact_id,
            to_contact_id=item.to_contact_id,
            changed_by=operation.created_by,
            through=SupportContactChange.Through.BULK,
            bulk_operation=operation,
        )
        for item, s in changed
    )
    targets = {item.to_contact_id for item, _s in changed}
    contact = (
        Value(targets.pop())
        if len(targets) == 1
        else Case(*(When(pk=s.pk, then=Value(item.to_contact_id)) for item, s in changed))
    )
    Subscription.objects.filter(pk__in=[s.pk for _i, s in changed]).update(
        support_contact_id=contact, version=F("version") + 1
    )
    support_contacts_changed(changes, operation)


def _record_outcomes(decided: list) -> None:
    """Each row's outcome, in one UPDATE whatever the mix of outcomes."""
    by_outcome: dict[tuple[str, str], list[int]] = {}
    for item, outcome in decided:
        by_outcome.setdefault(outcome, []).append(item.pk)

    def each(part: int) -> Case:
        return Case(*(When(pk__in=pks, then=Value(kind[part])) for kind, pks in by_outcome.items()))

    BulkItem.objects.filter(pk__in=[item.pk for item, _outcome in decided]).update(
        outcome=each(0), reason=each(1)
    )


def _count(operation: BulkOperation, decided: list) -> None:
    tally = dict.fromkeys((BulkOutcome.CHANGED, BulkOutcome.UNCHANGED, BulkOutcome.SKIPPED), 0)
    for _item, (outcome, _reason) in decided:
        tally[outcome] += 1
    BulkOperation.objects.filter(pk=operation.pk).update(
        state=BulkOperation.State.RUNNING,
        progressed_at=timezone.now(),
        changed=F("changed") + tally[BulkOutcome.CHANGED],
        unchanged=F("unchanged") + tally[BulkOutcome.UNCHANGED],
        skipped=F("skipped") + tally[BulkOutcome.SKIPPED],
    )


def _finish(operation: BulkOperation) -> None:
    now = timezone.now()
    BulkOperation.objects.filter(pk=operation.pk).update(
        state=BulkOperation.State.DONE, finished_at=now, progressed_at=now
    )
    event_record(EventType.BULK_OPERATION_COMPLETED, operation=operation.pk)


_UNFINISHED = (BulkOperation.State.QUEUED, BulkOperation.State.RUNNING)


def bulk_operations_resume(*, now=None) -> list[int]:
    """Give the operations that stopped moving (their worker died) to the queue again."""
    stalled = list(
        BulkOperation.objects.filter(
            state__in=_UNFINISHED, progressed_at__lt=_stalled_before(now)
        ).values_list("pk", flat=True)
    )
    for operation_id in stalled:
        _enqueue(operation_id)
    return stalled


def bulk_operation_resume(operation: BulkOperation) -> None:
    """Give one operation that stopped moving to the queue again (its chunks carry on)."""
    _enqueue(operation.pk)


def is_stalled(operation: BulkOperation, *, now=None) -> bool:
    return operation.state in _UNFINISHED and operation.progressed_at < _stalled_before(now)


def _stalled_before(now=None):
    return (now or timezone.now()) - STALLED_AFTER


# Undo ---------------------------------------------------------------------------------------


def undo_refusal(operation: BulkOperation, *, now=None) -> str | None:
    """Why `operation` cannot be undone (None: it can)."""
    if operation.kind != BulkOperation.Kind.ASSIGN:
        return _("An undo cannot itself be undone; make a new bulk change instead.")
    if operation.state != BulkOperation.State.DONE:
        return _("Only a finished bulk change can be undone.")
    if hasattr(operation, "undone_by"):
        return _("This bulk change was already undone.")
    if operation.finished_at < (now or timezone.now()) - UNDO_WINDOW:
        return _("A bulk change can be undone within 24 hours only.")
    if not operation.changed:
        return _("This bulk change changed nothing, so there is nothing to undo.")
    return None


def bulk_operation_undo(*, operation_id: int, by: User) -> BulkOperation:
    """Put each subscription `operation` changed back to its previous contact, as a new
    operation: a row changed again since, or whose previous contact is no longer eligible, is
    skipped and reported."""
    with transaction.atomic():
        operation = _locked(operation_id, by)
        refusal = undo_refusal(operation)
        if refusal:
            raise BulkRefused(refusal)
        undo = BulkOperation.objects.create(
            provider_id=operation.provider_id,
            kind=BulkOperation.Kind.UNDO,
            undoes=operation,
            created_by=by,
            criteria={"undoes": operation.pk},
        )
        # Each row the operation changed, back to where its change came from (the provider
        # for a subscription that had no contact), expected at the version the change left.
        # Driven by the rows just written, each change found by its subscription's index: the
        # rows' statistics may not know them yet.
        came_from = SupportContactChange.objects.filter(
            bulk_operation=operation, subscription_id=OuterRef("subscription_id")
        ).values("from_contact_id")[:1]
        previous = (
            BulkItem.objects.filter(operation=operation, outcome=BulkOutcome.CHANGED)
            .annotate(
                back_to=Coalesce(
                    Subquery(came_from),
                    F("subscription__provider_id"),
                    output_field=BigIntegerField(),
                ),
                left_at=F("expected_version") + 1,
            )
            .order_by("pk")
            .values("subscription_id", "back_to", "left_at")
        )
        undo.total = _items_insert(
            undo,
            previous,
            subscription="subscription_id",
            to_contact="back_to",
            expected_version="left_at",
        )
        undo.save(update_fields=["total"])
        _queue(undo)
    if undo.total <= BACKGROUND_ABOVE:
        bulk_operation_run(undo.pk)
        undo.refresh_from_db()
    return undo
