"""The models as the API shows them (api/schemas.py names every key)."""

from datetime import UTC

from customers.models import Customer, Subscription
from partnercenter.models import Partner


def link(uri: str, headers=()) -> dict:
    return {"uri": uri, "method": "GET", "headers": list(headers)}


def _attributes(object_type: str, **more) -> dict:
    return {"objectType": object_type, **more}


def timestamp(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def customer_uri(customer: Customer) -> str:
    return f"/customers/{customer.tenant_id}"


def customer(row: Customer, *, delegated_access: bool | None = None) -> dict:
    """A customer; `delegated_access` (the single resource only): the caller's DAP."""
    shown = {
        "id": str(row.tenant_id),
        "companyProfile": {
            "tenantId": str(row.tenant_id),
            "domain": row.domain,
            "companyName": row.name,
            "attributes": _attributes("CustomerCompanyProfile"),
        },
        "relationshipToPartner": "reseller",
        "links": {"self": link(customer_uri(row))},
        "attributes": _attributes("Customer"),
    }
    if delegated_access is not None:
        shown["allowDelegatedAccess"] = delegated_access
    return shown


def subscription_uri(row: Subscription, customer_row: Customer) -> str:
    return f"{customer_uri(customer_row)}/subscriptions/{row.uuid}"


def subscription(row: Subscription, customer_row: Customer) -> dict:
    product = "OnlineServices" if row.supports_designated_contact else "OnlineServicesNCE"
    reseller = row.reseller_of_record
    return {
        "id": str(row.uuid),
        "offerName": row.offer_name,
        "friendlyName": row.nickname or row.offer_name,
        "quantity": row.quantity,
        "unitType": "Licenses",
        "creationDate": timestamp(row.created_at),
        "status": row.status,
        "autoRenewEnabled": row.auto_renew,
        "billingType": "license",
        "billingCycle": row.billing_cycle,
        "termDuration": row.term,
        "partnerId": reseller.partner_id if reseller else None,
        "contractType": "subscription",
        "productType": {"id": product, "displayName": product},
        "links": {"self": link(subscription_uri(row, customer_row))},
        "attributes": _attributes("Subscription", etag=str(row.version)),
    }


def support_contact(row: Subscription, customer_row: Customer) -> dict:
    return support_contact_of(
        row.effective_support_contact, row, customer_row, etag=str(row.version)
    )


def support_contact_of(
    contact: Partner, row: Subscription, customer_row: Customer, *, etag: str | None = None
) -> dict:
    """`contact` shown as `row`'s support contact (an event's: then without an etag)."""
    attributes = _attributes("SupportContact", **({"etag": etag} if etag else {}))
    return {
        "supportTenantId": str(contact.tenant_id),
        "supportMpnId": contact.partner_id,
        "name": contact.name,
        "links": {"self": link(subscription_uri(row, customer_row) + "/supportcontact")},
        "attributes": attributes,
    }


def partner_relationship(other: Partner, *, caller_is_reseller: bool, state: str) -> dict:
    return {
        "id": str(other.tenant_id),
        "name": other.name,
        "relationshipType": (
            "is_indirect_reseller_of"
            if caller_is_reseller
            else "is_indirect_cloud_solution_provider_of"
        ),
        "state": state,
        "mpnId": other.partner_id,
        "partnerId": other.partner_id,
        "attributes": _attributes("PartnerRelationship"),
    }


def collection(items: list, uri: str, *, continuation: tuple[str, str] | None = None) -> dict:
    """A collection; `continuation` (the token, the next page's uri) on a page not the last."""
    shown = {"totalCount": len(items), "items": items}
    links = {"self": link(uri)}
    if continuation:
        token, next_uri = continuation
        shown["continuationToken"] = token
        links["next"] = link(next_uri, [{"key": "MS-ContinuationToken", "value": token}])
    return {**shown, "links": links, "attributes": _attributes("Collection")}


def organization_profile(partner: Partner) -> dict:
    return {
        "id": str(partner.tenant_id),
        "tenantId": str(partner.tenant_id),
        "companyName": partner.name,
        "email": partner.support_email,
        "profileType": "organization_profile",
        "attributes": _attributes("OrganizationProfile"),
    }


def mpn_profile(partner: Partner) -> dict:
    return {
        "partnerName": partner.name,
        "mpnId": partner.partner_id,
        "profileType": "mpn_profile",
        "attributes": _attributes("MpnProfile"),
    }


def relationship_request(url: str) -> dict:
    return {"url": url, "attributes": _attributes("RelationshipRequest")}
