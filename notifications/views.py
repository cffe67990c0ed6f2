"""Webhooks: a partner's global admins register endpoints, change them, roll their secrets, send
them a test event, and see each endpoint's recent deliveries, re-sending one when it failed.

A secret is shown once, in the answer to the POST that made it (registering, rolling): never
in a URL, a message, the session or a cache. Test and Re-send answer a plain form with a
redirect, and htmx with the deliveries section."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from events.models import EventType
from notifications import services
from notifications.forms import WebhookEndpointChangeForm, WebhookEndpointForm
from notifications.models import Delivery, WebhookEndpoint
from notifications.signing import SIGNATURE_HEADER
from partnercenter.access import requires
from partnercenter.errors import DomainError, told
from partnercenter.htmx import HtmxHttpRequest, is_htmx_target, render_page
from partnercenter.keyset import KeysetPaginator
from partnercenter.policy import Action
from partnercenter.roles import Capability

DELIVERIES = "deliveries-section"  # the partial (and element id) Test and Re-send swap
DELIVERIES_PER_PAGE = 25
ALL_EVENTS = len(services.SUBSCRIBABLE)


def _form_errors(form, error: DomainError | ValidationError) -> None:
    """A service's refusal on the form: on its field when it names one of the form's."""
    if isinstance(error, DomainError):
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


# The list ---------------------------------------------------------------------------------------


def _list_page(request: HtmxHttpRequest, form: WebhookEndpointForm, *, created=None):
    endpoints = WebhookEndpoint.objects.restrict(request.user, Action.VIEW).order_by(
        "-created_at", "-pk"
    )
    return TemplateResponse(
        request,
        "notifications/webhook_list.html",
        {
            "form": form,
            "endpoints": list(endpoints[: services.MAX_ENDPOINTS]),
            "all_events": ALL_EVENTS,
            "created": created,
            "signature_header": SIGNATURE_HEADER,
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Capability.MANAGE_WEBHOOKS)
@never_cache
def webhook_list(request: HtmxHttpRequest):
    """The partner's webhook endpoints; register a new one (its secret is shown once)."""
    if request.method != "POST":
        return _list_page(request, WebhookEndpointForm())
    form = WebhookEndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = services.webhook_endpoint_create(by=request.user, **form.cleaned_data)
        except (DomainError, ValidationError) as error:
            _form_errors(form, error)
        else:
            # A fresh form: the secret is in this answer and nowhere else.
            return _list_page(request, WebhookEndpointForm(), created=endpoint)
    return _list_page(request, form)


# One endpoint -----------------------------------------------------------------------------------


def _endpoint_or_404(request: HtmxHttpRequest, endpoint_id, action: Action) -> WebhookEndpoint:
    return get_object_or_404(
        WebhookEndpoint.objects.restrict(request.user, action).select_related("created_by"),
        pk=endpoint_id,
    )


def _deliveries(request: HtmxHttpRequest, endpoint: WebhookEndpoint):
    """The endpoint's deliveries, newest first, a page at a time."""
    deliveries = (
        Delivery.objects.restrict(request.user, Action.VIEW)
        .filter(endpoint=endpoint)
        .select_related("event")
    )
    paginator = KeysetPaginator(deliveries, ("-pk",), DELIVERIES_PER_PAGE, world=endpoint.pk)
    return paginator.page(after=request.GET.get("after"), before=request.GET.get("before"))


def _detail_context(request: HtmxHttpRequest, endpoint, *, form=None, new_secret="") -> dict:
    return {
        "endpoint": endpoint,
        "form": form or WebhookEndpointChangeForm.for_endpoint(endpoint),
        "deliveries": _deliveries(request, endpoint),
        "all_events": ALL_EVENTS,
        "new_secret": new_secret,
        "signature_header": SIGNATURE_HEADER,
        "test_event": EventType.TEST,
    }


def _detail_page(request: HtmxHttpRequest, endpoint, **kwargs):
    return render_page(
        request,
        "notifications/webhook_detail.html",
        _detail_context(request, endpoint, **kwargs),
        partial=DELIVERIES,
    )


@require_http_methods(["GET", "POST"])
@requires(Capability.MANAGE_WEBHOOKS)
@never_cache
def webhook_detail(request: HtmxHttpRequest, endpoint_id):
    """One endpoint and its recent deliveries; POST: change its description, events, state."""
    if request.method != "POST":
        return _detail_page(request, _endpoint_or_404(request, endpoint_id, Action.VIEW))
    endpoint = _endpoint_or_404(request, endpoint_id, Action.EDIT)
    form = WebhookEndpointChangeForm(request.POST)
    if form.is_valid():
        try:
            services.webhook_endpoint_update(
                endpoint=endpoint, by=request.user, **form.cleaned_data
            )
        except (DomainError, ValidationError) as error:
            _form_errors(form, error)
        else:
            messages.success(request, _("The endpoint was saved."))
            return redirect("notifications:webhook_detail", endpoint.pk)
    return _detail_page(request, endpoint, form=form)


@require_POST
@requires(Capability.MANAGE_WEBHOOKS)
@never_cache
def webhook_secret_roll(request: HtmxHttpRequest, endpoint_id):
    """Give the endpoint a new secret and show it, once; the old one stops working."""
    endpoint = _endpoint_or_404(request, endpoint_id, Action.EDIT)
    try:
        endpoint = services.webhook_endpoint_secret_roll(endpoint=endpoint, by=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("notifications:webhook_detail", endpoint.pk)
    return TemplateResponse(
        request,
        "notifications/webhook_detail.html",
        _detail_context(request, endpoint, new_secret=endpoint.secret),
    )


def _after(request: HtmxHttpRequest, endpoint: WebhookEndpoint):
    """The endpoint's page: redirected to (a plain form), or its deliveries swapped in (htmx)."""
    if is_htmx_target(request, DELIVERIES):
        return _detail_page(request, endpoint)
    return redirect("notifications:webhook_detail", endpoint.pk)


@require_POST
@requires(Capability.MANAGE_WEBHOOKS)
def webhook_test(request: HtmxHttpRequest, endpoint_id):
    """Send the endpoint a test event, through the outbox like any other event."""
    endpoint = _endpoint_or_404(request, endpoint_id, Action.EDIT)
    done = _(
        "A test event is on its way to the endpoint. Its delivery shows here within moments: "
        "refresh the list to see it."
    )
    with told(request, done):
        services.webhook_test_send(endpoint=endpoint, by=request.user)
    return _after(request, endpoint)


@require_POST
@requires(Capability.MANAGE_WEBHOOKS)
def delivery_resend(request: HtmxHttpRequest, endpoint_id, delivery_id):
    """Deliver one delivery's event again, as a new delivery; the old one stays as it was."""
    endpoint = _endpoint_or_404(request, endpoint_id, Action.VIEW)
    delivery = get_object_or_404(
        Delivery.objects.restrict(request.user, Action.RESEND).select_related("event"),
        endpoint=endpoint,
        pk=delivery_id,
    )
    done = _("The event %(event)s is sent again, as a new delivery at the top of the list.") % {
        "event": delivery.event.uuid
    }
    with told(request, done):
        services.delivery_resend(delivery=delivery, by=request.user)
    return _after(request, endpoint)
