"""The JSON resources of the API, as Partner Center names them: what the OpenAPI document
describes and what every answer is checked against. Output keys are exactly these."""

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field, create_model


class Header(Schema):
    key: str
    value: str


class Link(Schema):
    uri: str = Field(description="Relative to /v1, e.g. /customers/{id}.")
    method: Literal["GET"] = "GET"
    headers: list[Header] = []


class SelfLinks(Schema):
    self: Link


class PageLinks(Schema):
    self: Link
    next: Link | None = Field(None, description="Only on a page that is not the last.")


def _attributes(object_type: str, *, etag: bool = False) -> type[Schema]:
    """Every resource's `attributes`: its object type and, for the versioned ones, the etag."""
    fields = {"objectType": (Literal[object_type], object_type)}
    if etag:
        fields["etag"] = (str, ...)
    return create_model(f"{object_type}Attributes", __base__=Schema, **fields)


class CompanyProfile(Schema):
    tenantId: str
    domain: str
    companyName: str
    attributes: _attributes("CustomerCompanyProfile")


class CustomerListItem(Schema):
    id: str
    companyProfile: CompanyProfile
    relationshipToPartner: Literal["reseller", "none"]
    links: SelfLinks
    attributes: _attributes("Customer")


class Customer(CustomerListItem):
    allowDelegatedAccess: bool


class CollectionAttributes(Schema):
    objectType: Literal["Collection"] = "Collection"


class CustomerCollection(Schema):
    totalCount: int = Field(description="The number of items in this page.")
    items: list[CustomerListItem]
    continuationToken: str | None = Field(
        None, description="Only on a page that is not the last: send it as MS-ContinuationToken."
    )
    links: PageLinks
    attributes: CollectionAttributes


class ProductType(Schema):
    id: Literal["OnlineServices", "OnlineServicesNCE"]
    displayName: Literal["OnlineServices", "OnlineServicesNCE"]


class Subscription(Schema):
    id: str
    offerName: str
    friendlyName: str
    quantity: int
    unitType: Literal["Licenses"]
    creationDate: datetime
    status: Literal["active", "suspended", "pending", "expired", "disabled", "deleted"]
    autoRenewEnabled: bool
    billingType: Literal["license"]
    billingCycle: Literal["monthly", "annual"]
    termDuration: Literal["P1M", "P1Y", "P3Y"]
    partnerId: str | None
    contractType: Literal["subscription"]
    productType: ProductType
    links: SelfLinks
    attributes: _attributes("Subscription", etag=True)


class SubscriptionCollection(Schema):
    totalCount: int
    items: list[Subscription]
    links: SelfLinks
    attributes: CollectionAttributes


class SupportContact(Schema):
    supportTenantId: str
    supportMpnId: str
    name: str
    links: SelfLinks
    attributes: _attributes("SupportContact", etag=True)


class SupportContactIn(Schema):
    """Names the partner by either id (or both, naming the same partner). Keys match
    case-insensitively; `name` and unknown keys are ignored."""

    supportTenantId: str | None = None
    supportMpnId: str | int | None = None
    name: Any = Field(None, description="Informational; ignored.")


class CustomerPatch(Schema):
    relationshipToPartner: Literal["none"]


class PartnerRelationship(Schema):
    id: str
    name: str
    relationshipType: Literal["is_indirect_cloud_solution_provider_of", "is_indirect_reseller_of"]
    state: Literal["active", "requested"]
    mpnId: str
    partnerId: str
    attributes: _attributes("PartnerRelationship")


class PartnerRelationshipCollection(Schema):
    totalCount: int
    items: list[PartnerRelationship]
    links: SelfLinks
    attributes: CollectionAttributes


class RelationshipRequest(Schema):
    url: str
    attributes: _attributes("RelationshipRequest")


class OrganizationProfile(Schema):
    id: str
    tenantId: str
    companyName: str
    email: str
    profileType: Literal["organization_profile"]
    attributes: _attributes("OrganizationProfile")


class MpnProfile(Schema):
    partnerName: str
    mpnId: str
    profileType: Literal["mpn_profile"]
    attributes: _attributes("MpnProfile")


class Error(Schema):
    code: int
    description: str = Field(min_length=1, max_length=1024)
    errorName: str
    data: list[str]
    source: Literal["partnercenter"]
