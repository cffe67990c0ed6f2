"""The role table of DOMAIN.md, as partnercenter/roles.py states it."""

import pytest

from partnercenter.roles import CAPABILITY_TABLE, Capability, Role, capabilities_for, roles_with
from tests import factories

DOMAIN_TABLE = {
    # capability: (global admin, admin agent, helpdesk agent, sales agent, user management admin)
    Capability.VIEW_CUSTOMERS: (1, 1, 1, 1, 0),
    Capability.ASSIGN_SUPPORT_CONTACT: (1, 1, 1, 0, 0),
    Capability.REQUEST_RELATIONSHIP: (1, 1, 0, 1, 0),
    Capability.REMOVE_RELATIONSHIP: (1, 1, 0, 1, 0),
    Capability.VIEW_HISTORY: (1, 1, 1, 1, 0),
    Capability.MANAGE_USERS: (1, 0, 0, 0, 1),
    Capability.VIEW_SUPPORT_PROFILE: (1, 1, 0, 0, 1),
    Capability.EDIT_SUPPORT_PROFILE: (1, 1, 0, 0, 0),
    Capability.MANAGE_API_TOKENS: (1, 0, 0, 0, 0),
    Capability.MANAGE_WEBHOOKS: (1, 0, 0, 0, 0),
}
ROLE_ORDER = [
    Role.GLOBAL_ADMIN,
    Role.ADMIN_AGENT,
    Role.HELPDESK_AGENT,
    Role.SALES_AGENT,
    Role.USER_MANAGEMENT_ADMIN,
]


@pytest.mark.parametrize("capability", list(Capability))
def test_the_capability_table_matches_the_domain(capability):
    expected = {role for role, yes in zip(ROLE_ORDER, DOMAIN_TABLE[capability], strict=True) if yes}
    assert roles_with(capability) == expected


def test_global_admin_may_do_everything():
    assert capabilities_for([Role.GLOBAL_ADMIN]) == set(CAPABILITY_TABLE)


def test_several_roles_add_up():
    assert capabilities_for([Role.SALES_AGENT, Role.USER_MANAGEMENT_ADMIN]) == {
        Capability.VIEW_CUSTOMERS,
        Capability.REQUEST_RELATIONSHIP,
        Capability.REMOVE_RELATIONSHIP,
        Capability.VIEW_HISTORY,
        Capability.MANAGE_USERS,
        Capability.VIEW_SUPPORT_PROFILE,
    }


def test_no_role_means_no_capability():
    assert capabilities_for([]) == frozenset()


@pytest.mark.django_db
def test_a_user_can_exactly_what_their_roles_grant():
    user = factories.StaffUserFactory(roles=[Role.HELPDESK_AGENT])
    assert user.can(Capability.ASSIGN_SUPPORT_CONTACT)
    assert not user.can(Capability.REQUEST_RELATIONSHIP)
    customer_admin = factories.CustomerAdminFactory()
    assert customer_admin.capabilities == frozenset()
