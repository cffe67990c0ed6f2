"""Requests and their answers: partnerships and customer relationships. Atomic and checked.

Every refusal raises DomainError with a message for the person who asked; nothing is changed
then. Ending a relationship, a partnership or DAP makes subscriptions fall back, so those
workflows live with the subscriptions, in customers/workflows.py.
"""

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from events.models import EventType
from events.services import event_record
from partnercenter.errors import DomainError
from partnercenter.models import Partner, User
from partnercenter.policy import Action, permits
from partnercenter.time_zones import local_date
from relationships.models import (
    REQUEST_LIFETIME,
    CustomerRelationship,
    RelationshipRequest,
    RelationshipState,
    RequestState,
    ResellerPartnership,
)

# Provider ↔ reseller partnerships ----------------------------------------------------------


@transaction.atomic
def reseller_partnership_request(*, provider: Partner, partner_id: str, by: User):
    """Ask the reseller with MPN id `partner_id` for a partnership with `provider`."""
    if by.partner_id != provider.pk or not permits(by, ResellerPartnership, Action.REQUEST):
        raise DomainError(_("You may not request partnerships for this partner."))
    reseller = Partner.objects.filter(partner_id=partner_id.strip()).first()
    if reseller is None:
        raise DomainError(_("No partner has the partner id %(id)s.") % {"id": partner_id})
    if not reseller.kind == Partner.Kind.INDIRECT_RESELLER:
        raise DomainError(
            _("%(partner)s is not an indirect reseller.") % {"partner": reseller.name}
        )
    existing = ResellerPartnership.objects.live().filter(provider=provider, reseller=reseller)
    if current := existing.first():
        raise _partnership_exists(reseller, current)
    try:
        with transaction.atomic():  # a savepoint: a request made at the same moment wins
            partnership = ResellerPartnership.objects.create(
                provider=provider, reseller=reseller, state=RelationshipState.REQUESTED
            )
    except IntegrityError:
        raise _partnership_exists(reseller, existing.first()) from None
    event_record(EventType.PARTNERSHIP_REQUESTED, partnership=partnership.pk)
    return partnership


def _partnership_exists(reseller: Partner, current: ResellerPartnership | None):
    state = current.get_state_display() if current else RelationshipState.REQUESTED.label
    return DomainError(
        _("A partnership with %(partner)s already exists (%(state)s).")
        % {"partner": reseller.name, "state": str(state).lower()}
    )


@transaction.atomic
def _partnership_answer(partnership_id: int, by: User, state: str) -> ResellerPartnership:
    """The reseller's answer to a requested partnership: `state` (active or removed)."""
    partnership = (
        ResellerPartnership.objects.restrict(by, Action.ANSWER)
        .select_for_update(of=("self",))
        .filter(pk=partnership_id)
        .first()
    )
    if partnership is None or partnership.state != RelationshipState.REQUESTED:
        raise DomainError(_("This partnership request is no longer open; nothing changed."))
    partnership.state = state
    partnership.save(update_fields=["state", "updated_at"])
    event_record(
        EventType.PARTNERSHIP_ACCEPTED
        if state == RelationshipState.ACTIVE
        else EventType.PARTNERSHIP_DECLINED,
        partnership=partnership.pk,
    )
    return partnership


def reseller_partnership_accept(*, partnership: ResellerPartnership, by: User):
    return _partnership_answer(partnership.pk, by, RelationshipState.ACTIVE)


def reseller_partnership_decline(*, partnership: ResellerPartnership, by: User):
    return _partnership_answer(partnership.pk, by, RelationshipState.REMOVED)


# Partner ↔ customer relationships -----------------------------------------------------------


def relationship_event(type: EventType, relationship, *, delegated_admin: bool | None = None):
    """Record `type` about the relationship (or request) between a partner and a customer."""
    event_record(
        type,
        partner=relationship.partner_id,
        customer=relationship.customer_id,
        delegated_admin=(
            relationship.delegated_admin if delegated_admin is None else delegated_admin
        ),
    )


def requestable_partners(provider_or_reseller: Partner) -> list[Partner]:
    """Who staff of this partner may request a customer relationship for: the partner itself
    and, for a provider, each reseller it has an active partnership with."""
    partners = [provider_or_reseller]
    if provider_or_reseller.is_provider:
        partners += [
            p.reseller
            for p in ResellerPartnership.objects.active()
            .filter(provider=provider_or_reseller)
            .select_related("reseller")
            .order_by("reseller__name")
        ]
    return partners


@transaction.atomic
def relationship_request_create(
    *, customer: Model, partner: Partner, include_delegated_admin: bool, by: User
) -> RelationshipRequest:
    """Invite `customer` to a relationship with `partner` (staff's own or one of its resellers)."""
    # The customer's model through the instance: this layer does not import the one above it.
    if not type(customer).objects.restrict(by, Action.REQUEST).filter(pk=customer.pk).exists():
        raise DomainError(_("You may not request a relationship with this customer."))
    if partner.pk not in {p.pk for p in requestable_partners(by.partner)}:
        raise DomainError(
            _(
                "%(partner)s is not a partner you can request a relationship for: its partnership "
                "with %(you)s is not active."
            )
            % {"partner": partner.name, "you": by.partner.name}
        )
    relationship = CustomerRelationship.objects.active().filter(partner=partner, customer=customer)
    current = relationship.first()
    if current and (current.delegated_admin or not include_delegated_admin):
        raise DomainError(
            _("%(partner)s already has a relationship with %(customer)s; nothing to request.")
            % {"partner": partner.name, "customer": customer.name}
        )
    pending = RelationshipRequest.objects.filter(
        partner=partner, customer=customer, state=RequestState.PENDING
    ).select_for_update(of=("self",))
    for earlier in pending:
        if not earlier.is_expired:
            raise DomainError(
                _(
                    "A request for %(partner)s is already pending with %(customer)s (sent "
                    "%(date)s); it can be accepted until %(expires)s."
                )
                % {
                    "partner": partner.name,
                    "customer": customer.name,
                    "date": local_date(earlier.created_at),
                    "expires": local_date(earlier.expires_at),
                }
            )
        earlier.state = RequestState.EXPIRED
        earlier.save(update_fields=["state"])
    try:
        with transaction.atomic():  # a savepoint: a request made at the same moment wins
            request = RelationshipRequest.objects.create(
                partner=partner,
                requested_through=by.partner,
                customer=customer,
                include_delegated_admin=include_delegated_admin,
                requested_by=by,
            )
    except IntegrityError:
        raise DomainError(
            _(
                "A request for %(partner)s was sent to %(customer)s a moment ago by someone "
                "else; nothing changed. It is listed on the customer's Relationships tab."
            )
            % {"partner": partner.name, "customer": customer.name}
        ) from None
    relationship_event(
        EventType.RELATIONSHIP_REQUESTED, request, delegated_admin=include_delegated_admin
    )
    return request


def _open_request_for(request_id: int, by: User) -> RelationshipRequest:
    """The request, locked, if `by` is an admin of its customer and it can still be answered."""
    request = (
        RelationshipRequest.objects.restrict(by, Action.ANSWER)
        .select_for_update(of=("self",))
        .select_related("partner", "customer")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise DomainError(_("This invitation is meant for another organisation."))
    if request.state == RequestState.ACCEPTED:
        raise DomainError(_("This invitation was already accepted; nothing changed."))
    if request.state != RequestState.PENDING:
        raise DomainError(
            _("This invitation was %(state)s; nothing changed.")
            % {"state": request.get_state_display().lower()}
        )
    if request.is_expired:
        raise DomainError(
            _("This invitation expired on %(date)s; ask %(partner)s for a new one.")
            % {"date": local_date(request.expires_at), "partner": request.partner}
        )
    return request


def _respond(request: RelationshipRequest, state: str, by: User) -> None:
    request.state = state
    request.responded_by = by
    request.responded_at = timezone.now()
    request.save(update_fields=["state", "responded_by", "responded_at"])


@transaction.atomic
def relationship_request_accept(*, request: RelationshipRequest, by: User) -> CustomerRelationship:
    """The customer's admin accepts: the relationship becomes active, with DAP if asked.

    Accepting never takes away DAP a relationship already has, so it cannot make a designated
    contact ineligible; it still locks the relationship row like every change of it.
    """
    request = _open_request_for(request.pk, by)
    relationship = (
        CustomerRelationship.objects.live()
        .select_for_update(of=("self",))
        .filter(partner=request.partner, customer=request.customer)
        .first()
    )
    if relationship is None:
        relationship = CustomerRelationship(partner=request.partner, customer=request.customer)
    relationship.state = RelationshipState.ACTIVE
    relationship.delegated_admin = relationship.delegated_admin or request.include_delegated_admin
    relationship.save()
    _respond(request, RequestState.ACCEPTED, by)
    relationship_event(EventType.RELATIONSHIP_ACCEPTED, relationship)
    return relationship


@transaction.atomic
def relationship_request_decline(*, request: RelationshipRequest, by: User) -> None:
    request = _open_request_for(request.pk, by)
    _respond(request, RequestState.DECLINED, by)
    relationship_event(
        EventType.RELATIONSHIP_DECLINED, request, delegated_admin=request.include_delegated_admin
    )


# Links that invite a customer (the API's relationship request URL) ----------------------------

_LINK_SALT = "relationships.request-link"


def relationship_request_link(*, partner: Partner, by: User, delegated_admin: bool) -> str:
    """A signed link token: whichever customer's admin opens it gets a request for a
    relationship with `partner`, made by `by` (checked then, like any request). Nothing is
    stored; it works for REQUEST_LIFETIME."""
    return signing.dumps(
        {"p": partner.pk, "u": by.pk, "d": bool(delegated_admin)}, salt=_LINK_SALT, compress=True
    )


def relationship_request_from_link(*, link: str, by: User) -> RelationshipRequest:
    """The request `link` invites `by` (a customer's admin) to answer: made now for their
    customer, or the one already pending for the same partner. DomainError when the link is
    broken or expired, or when its maker may no longer ask."""
    try:
        payload = signing.loads(link, salt=_LINK_SALT, max_age=REQUEST_LIFETIME)
        partner_pk, maker_pk, delegated_admin = int(payload["p"]), int(payload["u"]), payload["d"]
    except signing.SignatureExpired:
        raise DomainError(
            _("This invitation link has expired; ask the partner for a new one.")
        ) from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise DomainError(_("This invitation link is not valid.")) from None
    customer = by.customer
    if customer is None:
        raise DomainError(_("Only a customer's admin can answer an invitation."))
    pending = (
        RelationshipRequest.objects.open()
        .filter(partner_id=partner_pk, customer=customer)
        .order_by("-created_at")
        .first()
    )
    if pending is not None:
        return pending
    partner = Partner.objects.filter(pk=partner_pk).first()
    maker = User.objects.filter(pk=maker_pk).select_related("partner").first()
    if partner is None or maker is None:
        raise DomainError(_("This invitation link is not valid."))
    return relationship_request_create(
        customer=customer, partner=partner, include_delegated_admin=bool(delegated_admin), by=maker
    )
