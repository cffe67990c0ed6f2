"""The twelve endpoints of the Partner-Center-compatible API: Partner Center's paths, JSON keys,
status codes and error codes (README "API"; the reference page /api/ reads this module's
OpenAPI document).

Each one reads through the same access policy as the pages (`restrict`) and writes through the
same services, so the invariant, the locks, the history and the fall-backs are theirs. What a
caller may not see answers 404 exactly as what does not exist.
"""

import json
import uuid

from django.core.exceptions import RequestDataTooBig
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Header, NinjaAPI, Query
from ninja.errors import AuthenticationError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from api import errors, representations, schemas
from api.auth import BearerToken, PerToken
from api.errors import ApiError, error_response
from api.middleware import unexpected_error_response
from api.paging import BadToken, read_token, token_for
from customers.models import Customer, Subscription, SupportContactChange
from customers.services import (
    ContactNotEligible,
    NewCommerceUnsupported,
    StaleSubscription,
    support_contact_assign,
)
from customers.workflows import ActiveSubscriptionsExist, customer_relationship_remove
from partnercenter.errors import DomainError
from partnercenter.models import Partner
from partnercenter.policy import Action
from partnercenter.roles import Capability
from relationships.models import CustomerRelationship, RelationshipState, ResellerPartnership
from relationships.services import relationship_request_link, requestable_partners

PAGE_SIZE, MAX_PAGE_SIZE = 100, 500
FILTER_FIELDS = {"companyname": "name", "domain": "domain"}
RELATIONSHIP_TYPES = {
    "isindirectcloudsolutionproviderof": "provider",
    "isindirectresellerof": "reseller",
}


class PartnerCenterApi(NinjaAPI):
    def get_root_path(self, path_params) -> str:
        return "/v1/"  # api/urls.py serves no root of its own


api = PartnerCenterApi(
    title="partnercenter API",
    version="1",
    description=(
        "The part of the Partner Center REST API around the designated support contact. "
        "Every call sends `Authorization: Bearer <token>`; a token acts as one partner staff "
        "user, with that user's roles."
    ),
    auth=BearerToken(),
    throttle=[PerToken()],
    urls_namespace="api",
    docs_url=None,
    openapi_url="/openapi.json",
)

# Every operation may answer these besides its own (the error body is always `Error`).
COMMON = {
    401: schemas.Error,
    403: schemas.Error,
    429: schemas.Error,
    500: schemas.Error,
    503: schemas.Error,
}


def answers(ok, *codes) -> dict:
    return {200: ok, **COMMON, **dict.fromkeys(codes, schemas.Error)}


# Errors ------------------------------------------------------------------------------------------


@api.exception_handler(ApiError)
def _api_error(request, error):
    return error_response(error)


@api.exception_handler(NinjaValidationError)
def _invalid_input(request, error):
    where = sorted({".".join(str(part) for part in e.get("loc", ())) for e in error.errors})
    return error_response(
        errors.InvalidRequestInput(
            _("Not valid: %(where)s.") % {"where": ", ".join(where)} if where else None,
            data=where,
        )
    )


@api.exception_handler(Throttled)
def _throttled(request, error):
    # ninja adds Retry-After from the throttle's wait.
    return error_response(errors.TooManyRequests())


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, error):
    return error_response(errors.TokenMissing())


@api.exception_handler(Exception)
def _unexpected(request, error):
    return unexpected_error_response(error)


# Lookups -----------------------------------------------------------------------------------------


def _require(user, capability: Capability) -> None:
    if not user.can(capability):
        raise errors.RoleNotAllowed()


def _guid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def _customer(user, customer_id: str) -> Customer:
    tenant = _guid(customer_id)
    found = tenant and Customer.objects.restrict(user, Action.VIEW).filter(tenant_id=tenant).first()
    if not found:
        raise errors.TenantNotFound()
    return found


# What the subscription and support contact resources show (api/representations.py).
_PARTNER_FIELDS = ("tenant_id", "partner_id", "name")
_RELATED_FIELDS = (
    "customer__tenant_id",
    *(
        f"{partner}__{field}"
        for partner in ("provider", "support_contact")
        for field in _PARTNER_FIELDS
    ),
)
# The support contact calls read no more than they show and check.
_CONTACT_FIELDS = (
    "uuid",
    "version",
    "commerce_type",
    "provider_id",
    "support_contact_id",
    *_RELATED_FIELDS,
)
SUBSCRIPTION_FIELDS = (
    *(f.name for f in Subscription._meta.concrete_fields),
    *_RELATED_FIELDS,
    "reseller_of_record__partner_id",
)


def _subscription(
    user, customer_id: str, subscription_id: str, *, fields=SUBSCRIPTION_FIELDS
) -> Subscription:
    """One query on the way to a 200: the subscription in the user's view, with its customer
    and partners, read with `fields` only. (Whoever sees a subscription sees its customer: a
    provider's scope requires the relationship, and a reseller is designated only with one.)"""
    tenant, subscription_uuid = _guid(customer_id), _guid(subscription_id)
    related = {field.partition("__")[0] for field in fields if "__" in field}
    try:
        if not (tenant and subscription_uuid):
            raise Subscription.DoesNotExist
        return (
            Subscription.objects.restrict(user, Action.VIEW)
            .select_related(*sorted(related))
            .only(*fields)
            .get(uuid=subscription_uuid, customer__tenant_id=tenant)
        )
    except Subscription.DoesNotExist:
        _customer(user, customer_id)  # which 404: the customer's or the subscription's
        raise errors.SubscriptionNotFound() from None


def _json_object(request) -> dict:
    """The body as a JSON object with its keys lower-cased (input keys match in any case)."""
    try:
        body = json.loads(request.body or b"null")
    except RequestDataTooBig:
        raise errors.InvalidRequestInput(_("The body is too large.")) from None
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidRequestInput(_("The body is not JSON.")) from None
    if not isinstance(body, dict):
        raise errors.InvalidRequestInput(_("The body must be a JSON object."))
    return {str(key).lower(): value for key, value in body.items()}


# 1–5: customers and subscriptions ----------------------------------------------------------------


def _prefix_filter(raw: str | None) -> dict | None:
    """`{"Field": "CompanyName"|"Domain", "Value": ..., "Operator": "starts_with"}` as
    {"field": model field, "value": prefix}; None: no filter."""
    if raw is None or raw == "":
        return None
    try:
        given = {str(k).lower(): v for k, v in json.loads(raw).items()}
    except (ValueError, AttributeError, TypeError):
        raise errors.InvalidRequestInput(_("The filter is not valid JSON.")) from None
    field = FILTER_FIELDS.get(str(given.get("field", "")).lower())
    value = given.get("value")
    if (
        field is None
        or not isinstance(value, str)
        or "\x00" in value
        or str(given.get("operator", "")).lower() != "starts_with"
    ):
        raise errors.InvalidRequestInput(
            _(
                'A filter is {"Field": "CompanyName" or "Domain", "Value": "<prefix>", '
                '"Operator": "starts_with"}.'
            )
        )
    return {"field": field, "value": value}


def _page_size(size: int | None) -> int:
    if size is None or size == 0:
        return PAGE_SIZE
    if size < 0:
        raise errors.InvalidRequestInput(_("size is a number from 1 to 500."))
    return min(size, MAX_PAGE_SIZE)


@api.get(
    "/customers",
    response=answers(schemas.CustomerCollection, 400),
    exclude_none=True,
    summary="List the customers (paged)",
    operation_id="customers_list",
)
def customers_list(
    request,
    size: int | None = None,
    filter_: str | None = Query(None, alias="filter"),
    seek_operation: str | None = Query(None, alias="seekOperation"),
    continuation: str | None = Header(None, alias="MS-ContinuationToken"),
):
    """Customers by company name, then tenant id. A page that is not the last carries a
    `continuationToken`, also in `links.next` as the MS-ContinuationToken header: send it with
    `seekOperation=Next` for the next page."""
    user = request.auth
    _require(user, Capability.VIEW_CUSTOMERS)
    if seek_operation is not None and seek_operation.lower() != "next":
        raise errors.InvalidRequestInput(_("seekOperation takes only Next."))
    after = None
    if continuation:
        try:
            after, page_size, prefix = read_token(continuation, partner_id=user.partner_id)
        except BadToken:
            raise errors.InvalidRequestInput(_("The continuation token is not valid.")) from None
    else:
        page_size, prefix = _page_size(size), _prefix_filter(filter_)
    rows = Customer.objects.restrict(user, Action.VIEW).order_by("name", "tenant_id")
    if prefix:
        rows = rows.filter(**{f"{prefix['field']}__istartswith": prefix["value"]})
    if after:
        name, tenant = after
        rows = rows.filter(Q(name__gt=name) | Q(name=name, tenant_id__gt=_guid(tenant)))
    found = list(rows.only("tenant_id", "name", "domain")[: page_size + 1])
    shown, more = found[:page_size], len(found) > page_size
    continuation_out = None
    if more:
        last = shown[-1]
        next_token = token_for(
            partner_id=user.partner_id,
            after=(last.name, str(last.tenant_id)),
            size=page_size,
            prefix=prefix,
        )
        continuation_out = (next_token, f"/customers?size={page_size}&seekOperation=Next")
    return representations.collection(
        [representations.customer(c) for c in shown],
        f"/customers?size={page_size}",
        continuation=continuation_out,
    )


@api.get(
    "/customers/relationshiprequests",
    response=answers(schemas.RelationshipRequest, 400),
    summary="Get a link that invites a customer to a relationship",
    operation_id="relationship_request_get",
)
def relationship_request_get(
    request,
    indirect_reseller_id: str | None = Query(None, alias="indirectResellerId"),
    dap: bool = False,
):
    """A signed link, valid 30 days, for your organisation or (indirectResellerId) one of its
    active resellers; a customer's admin who opens it signed in gets the request to accept.
    Nothing is stored until then."""
    user = request.auth
    _require(user, Capability.REQUEST_RELATIONSHIP)
    partner = user.partner
    if indirect_reseller_id:
        partner = _requestable(user, indirect_reseller_id)
    link = relationship_request_link(partner=partner, by=user, delegated_admin=dap)
    url = request.build_absolute_uri(
        reverse("relationships:relationship_request_link", args=[link])
    )
    return representations.relationship_request(url)


def _requestable(user, tenant_id: str) -> Partner:
    tenant = _guid(tenant_id)
    if tenant == user.partner.tenant_id:
        return user.partner
    for partner in requestable_partners(user.partner):
        if partner.tenant_id == tenant:
            return partner
    known = (
        tenant is not None
        and ResellerPartnership.objects.restrict(user, Action.VIEW)
        .filter(reseller__tenant_id=tenant)
        .exists()
    )
    raise errors.NotAnActiveReseller(
        data=["partnership_not_active" if known else "unknown_partner"]
    )


@api.get(
    "/customers/{customer_id}",
    response=answers(schemas.Customer, 404),
    summary="Get a customer",
    operation_id="customer_get",
)
def customer_get(request, customer_id: str):
    user = request.auth
    _require(user, Capability.VIEW_CUSTOMERS)
    own = CustomerRelationship.objects.filter(
        partner_id=user.partner_id,
        customer=OuterRef("pk"),
        state=RelationshipState.ACTIVE,
        delegated_admin=True,
    )
    tenant = _guid(customer_id)
    found = (
        tenant
        and Customer.objects.restrict(user, Action.VIEW)
        .filter(tenant_id=tenant)
        .annotate(delegated_access=Exists(own))
        .first()
    )
    if not found:
        raise errors.TenantNotFound()
    return representations.customer(found, delegated_access=found.delegated_access)


def _body(schema) -> dict:
    """An OpenAPI request body read by hand (its keys match in any case)."""
    return {
        "content": {"application/json": {"schema": schema.model_json_schema()}},
        "required": True,
    }


PATCH_BODY = _body(schemas.CustomerPatch)


@api.patch(
    "/customers/{customer_id}",
    response=answers(schemas.Customer, 400, 404),
    summary="Remove your reseller relationship with a customer",
    operation_id="customer_relationship_remove",
    openapi_extra={"requestBody": PATCH_BODY},
)
def customer_patch(request, customer_id: str):
    """`{"relationshipToPartner": "none"}` ends your organisation's relationship with the
    customer; the subscriptions it was the designated contact of fall back to their provider.
    A provider still billing active subscriptions there is refused (ActiveSubscriptionsExist)."""
    user = request.auth
    _require(user, Capability.REMOVE_RELATIONSHIP)
    customer = _customer(user, customer_id)
    body = _json_object(request)
    if body.get("relationshiptopartner") != "none":
        raise errors.InvalidRequestInput(_('The body must be {"relationshipToPartner": "none"}.'))
    relationship = (
        CustomerRelationship.objects.restrict(user, Action.REMOVE)
        .filter(customer=customer, partner_id=user.partner_id, state=RelationshipState.ACTIVE)
        .first()
    )
    if relationship is None:
        raise errors.TenantNotFound()
    try:
        customer_relationship_remove(relationship=relationship, by=user)
    except ActiveSubscriptionsExist as refusal:
        raise errors.ActiveSubscriptionsExist(refusal.message, data=refusal.subscriptions) from None
    except DomainError as refusal:
        raise errors.InvalidRequestInput(refusal.message) from None
    shown = representations.customer(customer, delegated_access=False)
    shown["relationshipToPartner"] = "none"
    return shown


@api.get(
    "/customers/{customer_id}/subscriptions",
    response=answers(schemas.SubscriptionCollection, 404),
    summary="List a customer's subscriptions",
    operation_id="subscriptions_list",
)
def subscriptions_list(request, customer_id: str):
    user = request.auth
    _require(user, Capability.VIEW_CUSTOMERS)
    customer = _customer(user, customer_id)
    rows = (
        Subscription.objects.restrict(user, Action.VIEW)
        .filter(customer=customer)
        .select_related("reseller_of_record")
        .order_by("created_at", "pk")
    )
    return representations.collection(
        [representations.subscription(s, customer) for s in rows],
        f"{representations.customer_uri(customer)}/subscriptions",
    )


@api.get(
    "/customers/{customer_id}/subscriptions/{subscription_id}",
    response=answers(schemas.Subscription, 404),
    summary="Get a subscription",
    operation_id="subscription_get",
)
def subscription_get(request, customer_id: str, subscription_id: str):
    user = request.auth
    _require(user, Capability.VIEW_CUSTOMERS)
    subscription = _subscription(user, customer_id, subscription_id)
    return representations.subscription(subscription, subscription.customer)


# 6–7: the designated support contact -------------------------------------------------------------


def _support_contact_answer(request, subscription: Subscription):
    request.api_etag = str(subscription.version)
    return representations.support_contact(subscription, subscription.customer)


def _legacy(subscription: Subscription) -> None:
    if not subscription.supports_designated_contact:
        raise errors.NewCommerceNotSupported()


@api.get(
    "/customers/{customer_id}/subscriptions/{subscription_id}/supportcontact",
    response=answers(schemas.SupportContact, 400, 404),
    summary="Get a subscription's designated support contact",
    operation_id="support_contact_get",
)
def support_contact_get(request, customer_id: str, subscription_id: str):
    """The partner the customer sees on its Support page (the provider when none is set).
    Its version is the `ETag` header and `attributes.etag`: send it as If-Match to a PUT."""
    user = request.auth
    _require(user, Capability.VIEW_CUSTOMERS)
    subscription = _subscription(user, customer_id, subscription_id, fields=_CONTACT_FIELDS)
    _legacy(subscription)
    return _support_contact_answer(request, subscription)


SUPPORT_CONTACT_BODY = _body(schemas.SupportContactIn)


def _named_partner(body: dict, known: tuple[Partner, ...] = ()) -> Partner | None:
    """The partner the body names by tenant id and/or MPN id (None: no partner is both); one
    of `known` (already read) without a query."""
    tenant, mpn = body.get("supporttenantid"), body.get("supportmpnid")
    if tenant is None and mpn is None:
        raise errors.InvalidRequestInput(_("Name the partner: supportTenantId or supportMpnId."))
    for value in (tenant, mpn):
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise errors.InvalidRequestInput(
                _("supportTenantId and supportMpnId are strings (or numbers).")
            )
    lookup = {}
    if tenant is not None:
        lookup["tenant_id"] = _guid(str(tenant))
        if lookup["tenant_id"] is None:
            return None
    if mpn is not None:
        if "\x00" in str(mpn):  # no partner id holds one (and PostgreSQL refuses it)
            return None
        lookup["partner_id"] = str(mpn).strip()
    for partner in known:
        if all(getattr(partner, field) == value for field, value in lookup.items()):
            return partner
    return Partner.objects.filter(**lookup).order_by("pk").first()


def _etag(request) -> int | None:
    given = request.headers.get("If-Match")
    if given is None:
        return None
    given = given.strip().removeprefix("W/").strip('"')
    return int(given) if given.isascii() and given.isdigit() else -1


@api.put(
    "/customers/{customer_id}/subscriptions/{subscription_id}/supportcontact",
    response=answers(schemas.SupportContact, 400, 404),
    summary="Change a subscription's designated support contact",
    operation_id="support_contact_update",
    openapi_extra={
        "requestBody": SUPPORT_CONTACT_BODY,
        "parameters": [
            {
                "in": "header",
                "name": "If-Match",
                "required": False,
                "schema": {"type": "string"},
                "description": "The etag read: refused (EtagNoLongerValid) if it changed since.",
            }
        ],
    },
)
def support_contact_update(request, customer_id: str, subscription_id: str):
    """Make the partner named by `supportTenantId` and/or `supportMpnId` the designated support
    contact: the provider or one of its eligible resellers. Recorded in the history as "API",
    by the token's user. Putting the current contact changes nothing and answers 200."""
    user = request.auth
    _require(user, Capability.VIEW_CUSTOMERS)
    subscription = _subscription(user, customer_id, subscription_id, fields=_CONTACT_FIELDS)
    _require(user, Capability.ASSIGN_SUPPORT_CONTACT)
    if subscription.provider_id != user.partner_id:
        raise errors.AccessDenied()
    _legacy(subscription)
    contact = _named_partner(
        _json_object(request), known=(subscription.effective_support_contact, subscription.provider)
    )
    expected = _etag(request)
    if expected is not None and expected != subscription.version:
        raise errors.EtagNoLongerValid()
    if contact is None:
        raise errors.SupportContactNotEligible(data=["unknown_partner"])
    if contact.pk == subscription.effective_support_contact.pk:
        # Already the designated contact, so eligible (the invariant): 200, nothing recorded,
        # without the write's locks (the SDK re-sends a PUT whose answer it missed).
        return _support_contact_answer(request, subscription)
    try:
        change = support_contact_assign(
            subscription=subscription,
            contact=contact,
            by=user,
            expected_version=subscription.version if expected is None else expected,
            through=SupportContactChange.Through.API,
        )
    except StaleSubscription as stale:
        raise errors.EtagNoLongerValid(stale.message) from None
    except ContactNotEligible as refusal:
        reason = refusal.reason.value if refusal.reason else "unknown_partner"
        raise errors.SupportContactNotEligible(refusal.message, data=[reason]) from None
    except NewCommerceUnsupported:
        raise errors.NewCommerceNotSupported() from None
    except DomainError as refusal:
        raise errors.AccessDenied(refusal.message) from None
    if change is not None:
        subscription.support_contact, subscription.version = contact, subscription.version + 1
    return _support_contact_answer(request, subscription)


# 8–10: relationships -----------------------------------------------------------------------------


@api.get(
    "/customers/{customer_id}/relationships",
    response=answers(schemas.PartnerRelationshipCollection, 404),
    summary="List a customer's indirect resellers",
    operation_id="customer_relationships_list",
)
def customer_relationships_list(request, customer_id: str):
    """The customer's active relationships with resellers, as your organisation may see them."""
    user = request.auth
    _require(user, Capability.VIEW_CUSTOMERS)
    customer = _customer(user, customer_id)
    rows = (
        CustomerRelationship.objects.restrict(user, Action.VIEW)
        .filter(
            customer=customer,
            state=RelationshipState.ACTIVE,
            partner__kind=Partner.Kind.INDIRECT_RESELLER,
        )
        .select_related("partner")
        .order_by("partner__name", "pk")
    )
    caller_is_reseller = not user.partner.is_provider
    return representations.collection(
        [
            representations.partner_relationship(
                r.partner, caller_is_reseller=caller_is_reseller, state=r.state
            )
            for r in rows
        ],
        f"{representations.customer_uri(customer)}/relationships",
    )


@api.get(
    "/relationships",
    response=answers(schemas.PartnerRelationshipCollection, 400),
    summary="List your organisation's partnerships with providers or resellers",
    operation_id="relationships_list",
)
def relationships_list(request, relationship_type: str = Query(..., alias="relationship_type")):
    """`IsIndirectCloudSolutionProviderOf`: a provider's resellers; `IsIndirectResellerOf`: a
    reseller's providers (the other one is an empty list). Active and requested ones."""
    user = request.auth
    _require(user, Capability.VIEW_CUSTOMERS)
    side = RELATIONSHIP_TYPES.get(relationship_type.lower())
    if side is None:
        raise errors.InvalidRequestInput(
            _("relationship_type is IsIndirectCloudSolutionProviderOf or IsIndirectResellerOf.")
        )
    caller_is_reseller = not user.partner.is_provider
    items = []
    if side == ("reseller" if caller_is_reseller else "provider"):
        other = "provider" if caller_is_reseller else "reseller"
        rows = (
            ResellerPartnership.objects.restrict(user, Action.VIEW)
            .live()
            .select_related(other)
            .order_by(f"{other}__name", "pk")
        )
        items = [
            representations.partner_relationship(
                getattr(p, other), caller_is_reseller=caller_is_reseller, state=p.state
            )
            for p in rows
        ]
    return representations.collection(
        items, f"/relationships?relationship_type={relationship_type}"
    )


# 11–12: profiles ---------------------------------------------------------------------------------


@api.get(
    "/profiles/organization",
    response=answers(schemas.OrganizationProfile),
    summary="Your organisation's profile",
    operation_id="organization_profile_get",
)
def organization_profile(request):
    return representations.organization_profile(request.auth.partner)


@api.get(
    "/profiles/mpn",
    response=answers(schemas.MpnProfile),
    summary="Your organisation's MPN profile",
    operation_id="mpn_profile_get",
)
def mpn_profile(request):
    return representations.mpn_profile(request.auth.partner)
