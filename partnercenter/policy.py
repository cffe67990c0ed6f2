"""The access policy: for every model and action, which rows a user may act on. Default deny.

`POLICY` is the one place that decides access to objects, next to the role table it reads
(`partnercenter/roles.py`). Each rule names the capability a partner's staff need and, per kind
of principal (staff of a provider, staff of a reseller, a customer's admin), the rows the action
reaches. A user who lacks the capability, a kind of principal without a scope, an anonymous or
an inactive user: nothing. Views, services, exports and commands narrow every lookup through
`RestrictedQuerySet.restrict(user, action)`, the way NetBox does, so another partner's object is
simply not found (404) and a write never reuses a view scope.

The rules reach the models of the apps built on this one by their labels, so that this module
(the bottom layer) imports none of them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.apps import apps
from django.db import models
from django.db.models import BooleanField, ExpressionWrapper, Q, Value
from django.utils.translation import gettext_lazy as _

from partnercenter.roles import Capability


class Action(StrEnum):
    VIEW = "view"
    EXPORT = "export"  # the history as CSV
    ASSIGN = "assign"  # a subscription's designated support contact
    REQUEST = "request"  # a relationship (for a customer) or a partnership (for a reseller)
    SHARE = "share"  # a relationship request's invitation link and email draft
    ANSWER = "answer"  # accept or decline a request
    REMOVE = "remove"  # end a relationship or a partnership
    REMOVE_DAP = "remove_dap"  # withdraw (customer) or give up (partner) DAP
    MANAGE = "manage"  # partner users and their roles
    EDIT = "edit"  # the partner's own support profile; a webhook endpoint
    RESEND = "resend"  # a webhook delivery, once more


Scope = Callable[[int], Q]  # from a partner's or a customer's id to the rows it reaches
EVERYTHING: Scope = lambda _id: Q()  # noqa: E731  (creation rules: the capability decides)


@dataclass(frozen=True)
class Rule:
    capability: Capability | None = None  # what staff need; None: staff never
    provider: Scope | None = None
    reseller: Scope | None = None
    customer_admin: Scope | None = None


def _model(label: str) -> type[models.Model]:
    return apps.get_model(label)


def _customer_reached_by(partner_id: int, customer: str) -> Q:
    """Rows whose `customer` (a field holding a customer id) the partner has an active
    relationship with. An EXISTS, not an IN: to mark one row `may_<action>`, PostgreSQL hashed
    every customer id the partner reaches (36 ms for a provider of 100,000 customers) where
    EXISTS is one index probe; as a filter, both are the same semi-join."""
    relationship = _model("relationships.CustomerRelationship")
    return Q(
        models.Exists(
            relationship.objects.filter(
                partner_id=partner_id,
                state=relationship.State.ACTIVE,
                customer_id=models.OuterRef(customer),
            )
        )
    )


def _resellers_of(provider_id: int):
    """Resellers with any partnership with the provider, even requested or removed ones: the
    provider knows of them, and the subscription page tells why they are not eligible."""
    partnership = _model("relationships.ResellerPartnership")
    return partnership.objects.filter(provider_id=provider_id).values("reseller_id")


def _where(field: str) -> Scope:
    """The rows whose `field` is the principal's own id."""
    return lambda principal: Q(**{field: principal})


_ITSELF = _where("pk")
_OF_PARTNER = _where("partner_id")
_OF_CUSTOMER = _where("customer_id")
_OF_PROVIDER = _where("provider_id")
_OF_RESELLER = _where("reseller_id")


def _customers_reached(partner: int) -> Q:
    return _customer_reached_by(partner, "pk")


def _subscriptions_of_provider(p: int) -> Q:
    return Q(provider_id=p) & _customer_reached_by(p, "customer_id")


def _changes_of_provider(p: int) -> Q:
    return Q(subscription__provider_id=p) & _customer_reached_by(p, "subscription__customer_id")


def _changes_naming(r: int) -> Q:
    return Q(from_contact_id=r) | Q(to_contact_id=r)


def _relationships_seen_by_provider(p: int) -> Q:
    return _customer_reached_by(p, "customer_id") & (
        Q(partner_id=p) | Q(partner_id__in=_resellers_of(p))
    )


def _requests_of(partner: int) -> Q:
    return Q(requested_through_id=partner) | Q(partner_id=partner)


def _staff_alike(capability: Capability, reach: Scope, customer_admin: Scope | None = None) -> Rule:
    """A rule that reaches the same rows for staff of a provider and of a reseller."""
    return Rule(capability, provider=reach, reseller=reach, customer_admin=customer_admin)


_CUSTOMER = "customers.customer"
_SUBSCRIPTION = "customers.subscription"
_CHANGE = "customers.supportcontactchange"
_BULK = "customers.bulkoperation"
_RELATIONSHIP = "relationships.customerrelationship"
_PARTNERSHIP = "relationships.resellerpartnership"
_REQUEST = "relationships.relationshiprequest"
_USER = "partnercenter.user"
_PARTNER = "partnercenter.partner"
_ENDPOINT = "notifications.webhookendpoint"
_DELIVERY = "notifications.delivery"

_HISTORY = Rule(Capability.VIEW_HISTORY, provider=_changes_of_provider, reseller=_changes_naming)
# A partner's webhook endpoints, and the deliveries made to them (an email has no endpoint).
_WEBHOOKS = _staff_alike(Capability.MANAGE_WEBHOOKS, _OF_PARTNER)
_DELIVERIES = _staff_alike(Capability.MANAGE_WEBHOOKS, _where("endpoint__partner_id"))
# A relationship ends only by one of its two parties: never by a third partner. (Scopes
# say who may act; the services say, with a message, when the state no longer allows it.)
_ENDED_BY_A_PARTY = _staff_alike(
    Capability.REMOVE_RELATIONSHIP, _OF_PARTNER, customer_admin=_OF_CUSTOMER
)

POLICY: dict[tuple[str, Action], Rule] = {
    (_CUSTOMER, Action.VIEW): _staff_alike(
        Capability.VIEW_CUSTOMERS, _customers_reached, customer_admin=_ITSELF
    ),
    (_CUSTOMER, Action.REQUEST): _staff_alike(Capability.REQUEST_RELATIONSHIP, _customers_reached),
    (_SUBSCRIPTION, Action.VIEW): Rule(
        Capability.VIEW_CUSTOMERS,
        provider=_subscriptions_of_provider,
        reseller=_where("support_contact_id"),  # read only
        customer_admin=_OF_CUSTOMER,
    ),
    (_SUBSCRIPTION, Action.ASSIGN): Rule(
        Capability.ASSIGN_SUPPORT_CONTACT, provider=_subscriptions_of_provider
    ),
    (_CHANGE, Action.VIEW): _HISTORY,
    # A bulk change is its provider's: seen, submitted and undone by the staff who assign.
    (_BULK, Action.VIEW): Rule(Capability.ASSIGN_SUPPORT_CONTACT, provider=_OF_PROVIDER),
    (_BULK, Action.ASSIGN): Rule(Capability.ASSIGN_SUPPORT_CONTACT, provider=_OF_PROVIDER),
    (_CHANGE, Action.EXPORT): _HISTORY,
    (_RELATIONSHIP, Action.VIEW): Rule(
        Capability.VIEW_CUSTOMERS,
        provider=_relationships_seen_by_provider,
        reseller=_OF_PARTNER,  # never the customer's other partners
        customer_admin=_OF_CUSTOMER,
    ),
    (_RELATIONSHIP, Action.REMOVE): _ENDED_BY_A_PARTY,
    (_RELATIONSHIP, Action.REMOVE_DAP): _ENDED_BY_A_PARTY,
    (_PARTNERSHIP, Action.VIEW): Rule(
        Capability.VIEW_CUSTOMERS, provider=_OF_PROVIDER, reseller=_OF_RESELLER
    ),
    (_PARTNERSHIP, Action.REQUEST): Rule(Capability.REQUEST_RELATIONSHIP, provider=EVERYTHING),
    (_PARTNERSHIP, Action.ANSWER): Rule(Capability.REQUEST_RELATIONSHIP, reseller=_OF_RESELLER),
    (_PARTNERSHIP, Action.REMOVE): Rule(
        Capability.REMOVE_RELATIONSHIP, provider=_OF_PROVIDER, reseller=_OF_RESELLER
    ),
    (_REQUEST, Action.VIEW): _staff_alike(
        Capability.VIEW_CUSTOMERS, _requests_of, customer_admin=_OF_CUSTOMER
    ),
    (_REQUEST, Action.SHARE): _staff_alike(Capability.REQUEST_RELATIONSHIP, _requests_of),
    (_REQUEST, Action.ANSWER): Rule(customer_admin=_OF_CUSTOMER),
    # the support profile, as the partner's own staff see it
    (_PARTNER, Action.VIEW): _staff_alike(Capability.VIEW_SUPPORT_PROFILE, _ITSELF),
    (_PARTNER, Action.EDIT): _staff_alike(Capability.EDIT_SUPPORT_PROFILE, _ITSELF),
    (_USER, Action.MANAGE): _staff_alike(Capability.MANAGE_USERS, _OF_PARTNER),
    (_ENDPOINT, Action.VIEW): _WEBHOOKS,
    (_ENDPOINT, Action.EDIT): _WEBHOOKS,  # edit, roll its secret, send it a test event
    (_DELIVERY, Action.VIEW): _DELIVERIES,
    (_DELIVERY, Action.RESEND): _DELIVERIES,
}


# The rules above in words, for the My access page: what each kind of user reaches.
REACH = {
    "provider": [
        _("Customers: those your organisation has an active relationship with."),
        _(
            "Subscriptions: your customers' subscriptions billed through your organisation; "
            "those of other providers stay hidden."
        ),
        _(
            "Relationships: your own, and those of the resellers you have a partnership with; "
            "you remove only your own, never a reseller's."
        ),
        _("History: the changes of the subscriptions you see."),
    ],
    "reseller": [
        _("Customers: those your organisation has an active relationship with."),
        _(
            "Subscriptions: only those on which your organisation is the designated support "
            "contact; you can view them but not change them."
        ),
        _(
            "Relationships: only your own; you may end them or give up delegated admin "
            "privileges. The customer's other partners stay hidden."
        ),
        _("History: the changes that name your organisation."),
    ],
    "customer_admin": [
        _("Your organisation's subscriptions, through every provider, and who supports each."),
        _(
            "Your partners: accept or decline their requests, remove delegated admin "
            "privileges, end a relationship."
        ),
    ],
}


def reach_of(user) -> list:
    """What `user` reaches, in words (empty for users without a scope)."""
    if getattr(user, "partner_id", None) is not None:
        return REACH["provider" if user.partner.is_provider else "reseller"]
    if getattr(user, "customer_id", None) is not None:
        return REACH["customer_admin"]
    return []


def _reach(user, model: type[models.Model], action: Action | str) -> tuple[Scope, int] | None:
    """The scope that applies to `user` for `action` on `model`, and the id it applies to
    (their partner's or their customer's); None: nothing at all."""
    rule = POLICY.get((model._meta.label_lower, Action(action)))
    if rule is None or user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.partner_id is not None:
        if rule.capability is None or not user.can(rule.capability):
            return None
        reach = rule.provider if user.partner.is_provider else rule.reseller
        return (reach, user.partner_id) if reach else None
    if user.customer_id is not None and rule.customer_admin:
        return rule.customer_admin, user.customer_id
    return None


def scope(user, model: type[models.Model], action: Action | str) -> Q | None:
    """The rows of `model` that `user` may `action`, as a filter; None: none at all."""
    reach = _reach(user, model, action)
    return None if reach is None else reach[0](reach[1])


def permits(user, model: type[models.Model], action: Action | str) -> bool:
    """Whether `user` may `action` some rows of `model` (creating one, showing a button)."""
    return _reach(user, model, action) is not None


class RestrictedQuerySet(models.QuerySet):
    """A QuerySet that every lookup made for a user narrows by the policy first."""

    # The scopes (with the id each applies to) this queryset is already narrowed by.
    _narrowed_by: frozenset = frozenset()

    def _clone(self):
        clone = super()._clone()
        clone._narrowed_by = self._narrowed_by
        return clone

    def __getstate__(self):
        # Scopes may be lambdas, which do not pickle; unpickled, the rows are asked again.
        state = super().__getstate__()
        state.pop("_narrowed_by", None)
        return state

    def _joined(self, combined, others):
        # Rows of either side: only the scopes both sides are narrowed by still hold.
        for other in others:
            combined._narrowed_by &= getattr(other, "_narrowed_by", frozenset())
        return combined

    def __or__(self, other):
        return self._joined(super().__or__(other), [other])

    def __xor__(self, other):
        return self._joined(super().__xor__(other), [other])

    def union(self, *other_qs, all=False):
        return self._joined(super().union(*other_qs, all=all), other_qs)

    def restrict(self, user, action: Action | str):
        """Only the rows `user` may `action`; none by default."""
        reach = _reach(user, self.model, action)
        if reach is None:
            return self.none()
        narrowed = self.filter(reach[0](reach[1]))
        narrowed._narrowed_by = self._narrowed_by | {reach}
        return narrowed

    def annotate_permission(self, user, action: Action | str, *, name: str | None = None):
        """Each row with `may_<action>`: whether `user` may also `action` it (no extra query).
        Where the rows are already narrowed by the very scope `action` has (a provider's staff
        viewing what they may also assign), that is every row, and the database is not asked
        again."""
        reach = _reach(user, self.model, action)
        if reach is None:
            flag = Value(False)
        elif reach in self._narrowed_by:
            flag = Value(True)
        else:
            flag = ExpressionWrapper(reach[0](reach[1]), output_field=BooleanField())
        return self.annotate(**{name or f"may_{Action(action)}": flag})
