"""The customer side: a customer admin's Admin area."""

from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from customers.models import Subscription
from partnercenter.access import customer_admin_required


@require_GET
@customer_admin_required
def customer_admin_home(request):
    """A customer admin's overview of their organisation."""
    customer = request.user.customer
    subscriptions = Subscription.objects.visible_to(request.user).select_related(
        "support_contact", "provider"
    )
    return TemplateResponse(
        request,
        "customers/admin_home.html",
        {"customer": customer, "subscriptions": subscriptions},
    )
