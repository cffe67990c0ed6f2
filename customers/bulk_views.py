"""Bulk changes on the pages: Review (from a customer's page or a reseller's), the operation's
page (its preview, its progress, then its summary), Submit and Undo. Every step is a plain form;
with htmx the operation swaps in place of the form that asked for it."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from customers import bulk
from customers.bulk_forms import ResellerSubscriptionsForm, ticked_form_for
from customers.models import BulkItem, BulkOperation, BulkOutcome, SupportContactChange
from customers.partnership_views import reseller_page
from customers.views import customer_or_404, customer_page
from partnercenter.access import requires
from partnercenter.htmx import HtmxHttpRequest, is_htmx_target, render_page
from partnercenter.keyset import KeysetPaginator
from partnercenter.policy import Action
from partnercenter.roles import Capability
from relationships.models import ResellerPartnership
from relationships.partnership_views import partnership_or_404

ROWS_PER_PAGE = 25
OPERATION = "bulk-operation"  # the partial (and element id) the operation's page swaps


@require_POST
@requires(Capability.ASSIGN_SUPPORT_CONTACT)
def customer_bulk_review(request: HtmxHttpRequest, customer_id):
    """Preview a change of the ticked subscriptions of a customer."""
    customer = customer_or_404(request, customer_id)
    form = ticked_form_for(request.user, customer, data=request.POST)
    if form is None:
        messages.error(request, _("You may change none of this customer's subscriptions."))
        return customer_page(request, customer)
    if not form.is_valid():
        return customer_page(request, customer, bulk_form=form)
    operation = bulk.bulk_preview_create(
        by=request.user,
        subscriptions=form.chosen(),
        contact=form.chosen_contact(),
        criteria=form.criteria(),
    )
    return _to_operation(request, operation)


@require_POST
@requires(Capability.ASSIGN_SUPPORT_CONTACT)
def reseller_bulk_review(request: HtmxHttpRequest, partnership_id):
    """Preview making a reseller the contact wherever it is eligible (narrowed by filters)."""
    partnership = _providers_partnership(request, partnership_id)
    if partnership.state != ResellerPartnership.State.ACTIVE:
        messages.error(
            request,
            _(
                "The partnership is not active, so this reseller cannot be a designated support "
                "contact."
            ),
        )
        return reseller_page(request, partnership)
    form = ResellerSubscriptionsForm(
        request.POST, provider=request.user.partner, reseller=partnership.reseller
    )
    if not form.is_valid():
        return reseller_page(request, partnership, bulk_form=form)
    operation = bulk.bulk_preview_create(
        by=request.user,
        subscriptions=form.chosen(),
        contact=partnership.reseller,
        criteria={**form.criteria(), "partnership": partnership.pk},
    )
    return _to_operation(request, operation)


def _providers_partnership(request, partnership_id):
    """One of the user's provider's partnerships (a reseller's staff have no reseller page)."""
    if not request.user.partner.is_provider:
        raise Http404
    return partnership_or_404(request, partnership_id, Action.VIEW)


def _to_operation(request, operation: BulkOperation):
    return _after(request, operation, pushed=True)


@require_GET
@requires(Capability.ASSIGN_SUPPORT_CONTACT)
def bulk_operation(request: HtmxHttpRequest, operation_id):
    """A bulk change: its preview, its progress, or what it did."""
    operation = _operation_or_404(request, operation_id)
    done = operation.state == BulkOperation.State.DONE
    return render_page(
        request,
        "customers/bulk_operation.html",
        _context(request, operation),
        partial=OPERATION,
        # The progress bar's last poll: the live region says how it ended.
        announcement=_summary(operation) if done and is_htmx_target(request, OPERATION) else "",
    )


@require_POST
@requires(Capability.ASSIGN_SUPPORT_CONTACT)
def bulk_operation_submit(request: HtmxHttpRequest, operation_id):
    """Apply a previewed bulk change (or resume one whose worker stopped)."""
    operation = _operation_or_404(request, operation_id)
    if bulk.is_stalled(operation):
        bulk.bulk_operation_resume(operation)
        messages.info(request, _("The bulk change was handed to a worker again."))
        return _after(request, operation)
    try:
        operation = bulk.bulk_operation_submit(operation_id=operation.pk, by=request.user)
    except bulk.BulkRefused as refusal:
        messages.error(request, refusal.message)
        operation.refresh_from_db()
        return _after(request, operation)
    if operation.state == BulkOperation.State.DONE:
        messages.success(request, _summary(operation))
    return _after(request, operation)


@require_POST
@requires(Capability.ASSIGN_SUPPORT_CONTACT)
def bulk_operation_undo(request: HtmxHttpRequest, operation_id):
    """Put back what a bulk change did, row by row where it still can."""
    operation = _operation_or_404(request, operation_id)
    try:
        undo = bulk.bulk_operation_undo(operation_id=operation.pk, by=request.user)
    except bulk.BulkRefused as refusal:
        messages.error(request, refusal.message)
        return _after(request, operation)
    if undo.state == BulkOperation.State.DONE:
        messages.success(request, _summary(undo))
    return _after(request, undo, pushed=True)


def _after(request, operation: BulkOperation, *, pushed: bool = False):
    """The operation's page: redirected to (a plain form), or swapped in (htmx)."""
    url = reverse("customers:bulk_operation", args=[operation.pk])
    if is_htmx_target(request, OPERATION):
        operation.refresh_from_db()
        response = render_page(
            request,
            "customers/bulk_operation.html",
            _context(request, operation),
            partial=OPERATION,
        )
        if pushed:
            response["HX-Push-Url"] = url
        return response
    return redirect(url)


def _operation_or_404(request, operation_id) -> BulkOperation:
    operation = (
        BulkOperation.objects.restrict(request.user, Action.VIEW)
        .select_related("contact", "created_by", "undoes")
        .filter(pk=operation_id)
        .first()
    )
    if operation is None:
        raise Http404
    return operation


def _summary(operation: BulkOperation) -> str:
    return _("%(changed)s changed, %(unchanged)s unchanged, %(skipped)s skipped.") % {
        "changed": operation.changed,
        "unchanged": operation.unchanged,
        "skipped": operation.skipped,
    }


def _context(request, operation: BulkOperation) -> dict:
    context = {
        "operation": operation,
        "close_url": _close_url(operation),
        "history_url": reverse("customers:history") + f"?bulk={operation.pk}",
        "mine": operation.created_by_id == request.user.pk,
    }
    if operation.state == BulkOperation.State.PREVIEW:
        context["preview"] = bulk.bulk_preview(operation, rows=ROWS_PER_PAGE)
        return context
    context["stalled"] = bulk.is_stalled(operation)
    context["percent"] = (
        round(100 * operation.processed / operation.total) if operation.total else 100
    )
    if operation.state == BulkOperation.State.DONE:
        context.update(_rows(request, operation))
        undone_by = getattr(operation, "undone_by", None)
        context["undone_by"] = undone_by
        context["undo_refusal"] = bulk.undo_refusal(operation)
    return context


def _rows(request, operation: BulkOperation) -> dict:
    """One page of the operation's rows, each with its outcome and, when changed, from whom."""
    items = BulkItem.objects.filter(operation=operation).select_related(
        "subscription__customer", "to_contact"
    )
    paginator = KeysetPaginator(items, ("pk",), ROWS_PER_PAGE, world=request.user.partner_id)
    page = paginator.page(after=request.GET.get("after"), before=request.GET.get("before"))
    changed = [i.subscription_id for i in page.object_list if i.outcome == BulkOutcome.CHANGED]
    changes = {
        c.subscription_id: c
        for c in SupportContactChange.objects.filter(
            bulk_operation=operation, subscription_id__in=changed
        ).select_related("from_contact", "subscription__provider")
    }
    return {
        "page": page,
        "rows": [(item, changes.get(item.subscription_id)) for item in page.object_list],
    }


def _close_url(operation: BulkOperation) -> str:
    """Back where the bulk change was asked for."""
    origin = operation.undoes.criteria if operation.undoes_id else operation.criteria
    if origin.get("source") == "customer":
        return reverse("customers:customer_detail", args=[origin["customer"]])
    if origin.get("source") == "reseller" and origin.get("partnership"):
        return reverse("customers:partnership_detail", args=[origin["partnership"]])
    return reverse("customers:history") + f"?bulk={operation.pk}"
