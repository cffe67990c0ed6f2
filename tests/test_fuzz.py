"""Every GET parameter and every form field of every page, fuzzed with Hypothesis, as each role.

The product's rule: bad input of any kind (a forged id, a stale form, a missing field, a wrong
role, another partner's object) gets a clear message and changes nothing; no input ever
produces a 500. What is fuzzed is discovered (tests/fuzzing.py says how), so a page added
later is fuzzed too, or `test_every_route_is_fuzzed` fails.

The demo world is seeded once for the module (and rolled back after it); each test runs in a
savepoint of it, each example in a savepoint of the test, so examples are independent. The
examples are the same on every run; `FUZZ_SCALE=4` makes four times as many, and
`FUZZ_REPORT=path.json` writes the inventory, the counts and the failures to a file.
"""

import contextlib
import json
import logging
import os
import time
from collections import Counter
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.test import Client, override_settings
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from customers import bulk
from customers.models import BulkOperation, Customer, Subscription, SupportContactChange
from customers.services import support_contact_assign
from demo import world as demo
from notifications.models import Delivery, WebhookEndpoint
from partnercenter import two_step
from partnercenter.api_tokens import api_token_issue, api_token_revoke
from partnercenter.errors import DomainError
from partnercenter.models import ApiToken, Partner, RoleAssignment, User
from partnercenter.roles import Role
from partnercenter.services import set_password_path
from relationships import services as relationship_services
from relationships.models import (
    CustomerRelationship,
    RelationshipRequest,
    RelationshipState,
    ResellerPartnership,
)
from relationships.services import relationship_request_link
from tests import factories, fuzzing
from tests.fuzzing import CSRF_FIELD, CSRF_SECRET, Field, Fuzzer, Probe, Target
from tests.urlwalk import product_routes

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
# usermgmtadmin has an authenticator app in the fuzz world. Signed in with the password only,
# the code is still to give: every page leads to the code page.
TWO_STEP_USER = "usermgmtadmin"
CODE_PENDING = f"{TWO_STEP_USER}+code-pending"
PRINCIPALS = [ANONYMOUS, *(u.username for u in demo.DEMO_USERS), CODE_PENDING]
ROUTES = {route.name: route for route in product_routes()}

# Examples per (page or form, principal), times FUZZ_SCALE.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
PAGE_EXAMPLES = 6  # a page served to the principal, plus 2 per query parameter
FORM_EXAMPLES = 10  # a form of the principal's pages, plus 1 per field
MOST_EXAMPLES = 18
REFUSED_PAGE_EXAMPLES = 2  # a page answering 403, 404, or a redirect to sign in
FOREIGN_FORM_EXAMPLES = 2  # a form only other principals have (another role or partner)
URLS_PER_ROUTE = 4  # seed URLs per route for the crawl

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # a sign-in costs 0.3 s else
STATIC_FILES_FROM_SOURCE = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REPORT = {"stats": fuzzing.Stats(), "failures": {}, "swept": set()}


# ------------------------------------------------------------------------------------------
# The world: the demo world, plus one object of each kind some page or form needs.


def _enrich_world() -> None:
    """What the demo world lacks for every page to show a real object: a change made by
    Contoso's staff, an open relationship request to Adatum, a provider's partnership request
    to Fabrikam, a deactivated and a newly invited staff user, a user with two-step
    verification on, webhook endpoints with deliveries."""
    users = {u.username: u for u in User.objects.all()}
    contoso = Partner.objects.get(partner_id=demo.PROVIDER["partner_id"])
    fabrikam = Partner.objects.get(partner_id=demo.RESELLERS[0]["partner_id"])
    adatum = Customer.objects.get(domain=demo.ADATUM["domain"])
    e3 = adatum.subscriptions.get(offer_name="Microsoft 365 E3")
    support_contact_assign(
        subscription=e3, contact=fabrikam, by=users["adminagent"], expected_version=e3.version
    )
    relationship_services.relationship_request_create(
        customer=adatum,
        partner=Partner.objects.get(name="Trey Research"),
        include_delegated_admin=True,
        by=users["salesagent"],
    )
    litware = Partner.objects.create(
        kind=Partner.Kind.INDIRECT_PROVIDER, partner_id="4870099", name="Litware Distribution"
    )
    ResellerPartnership.objects.create(
        provider=litware, reseller=fabrikam, state=RelationshipState.REQUESTED
    )
    for username, active in (("formerstaff", False), ("newstaff", True)):
        user = User.objects.create(
            username=username,
            first_name=username.title(),
            last_name="Fuzz",
            email=f"{username}@contoso-distribution.example",
            partner=contoso,
            is_active=active,
        )
        user.set_unusable_password()
        user.save()
        RoleAssignment.objects.create(user=user, role=Role.HELPDESK_AGENT)
    holder = users[TWO_STEP_USER]
    TOTPDevice.objects.create(user=holder, name="Authenticator app", confirmed=True)
    codes = StaticDevice.objects.create(user=holder, name="Recovery codes", confirmed=True)
    StaticToken.objects.bulk_create(
        StaticToken(device=codes, token=f"code{i:04d}") for i in range(10)
    )
    # API tokens: on every staff user's page their own, on a global admin's their colleagues'
    # too; the last one revoked (revoking it again changes nothing).
    for username in ("globaladmin", "helpdeskagent", "fabrikam", "proseware", "newstaff"):
        owner = User.objects.get(username=username)
        token, _raw = api_token_issue(user=owner, name=f"Sync of {username}")
    api_token_revoke(token=token, by=token.user)
    # Bulk changes of Contoso's: one done (its page offers Undo), one previewed (Submit).
    done = bulk.bulk_preview_create(
        by=users["adminagent"],
        subscriptions=Q(customer=adatum, offer_name="Office 365 Business Premium"),
        contact=fabrikam,
        criteria={"source": "customer", "customer": adatum.pk, "customer_name": adatum.name},
    )
    bulk.bulk_operation_submit(operation_id=done.pk, by=users["adminagent"])
    bulk.bulk_preview_create(
        by=users["adminagent"], subscriptions=Q(customer=adatum), contact=contoso, criteria={}
    )
    # Webhooks: a Contoso endpoint with a failed and a delivered delivery, an inactive one, and
    # one of Proseware's (another partner's: every page of it is a 404).
    psa = factories.WebhookEndpointFactory(partner=contoso, url="https://93.184.215.14/psa")
    factories.DeliveryFactory(endpoint=psa)
    factories.DeliveryFactory(endpoint=psa, state="succeeded", status_code=204, error="")
    factories.WebhookEndpointFactory(partner=contoso, active=False)
    proseware = Partner.objects.get(partner_id=demo.SECOND_PROVIDER["partner_id"])
    factories.DeliveryFactory(endpoint__partner=proseware)


def _seed_urls() -> list[str]:
    """Each product route with the ids of real objects, Adatum's first, a few per route."""
    adatum = Customer.objects.get(domain=demo.ADATUM["domain"])
    other = Customer.objects.exclude(pk=adatum.pk).order_by("name").first()

    def of_customer(model, kw):
        return model.objects.filter(customer_id=kw.get("customer_id", adatum.pk)).order_by("pk")

    has_two_step = Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
    samples = {
        "customer_id": lambda kw: [adatum.pk, other.pk],
        "subscription_id": lambda kw: of_customer(Subscription, kw),
        "change_id": lambda kw: SupportContactChange.objects.filter(
            **{k: v for k, v in kw.items() if k == "subscription_id"}
        ).order_by("pk"),
        "relationship_id": lambda kw: of_customer(CustomerRelationship, kw),
        "request_id": lambda kw: of_customer(RelationshipRequest, kw),
        "partnership_id": lambda kw: ResellerPartnership.objects.order_by("pk"),
        # Users in every state first: deactivated, with two-step verification.
        "user_id": lambda kw: User.objects.annotate(two_step=has_two_step).order_by(
            "is_active", "-two_step", "pk"
        ),
        "token": lambda kw: RelationshipRequest.objects.order_by("pk").values_list(
            "token", flat=True
        ),
        "token_id": lambda kw: ApiToken.objects.order_by("pk"),
        "operation_id": lambda kw: BulkOperation.objects.order_by("pk"),
        "endpoint_id": lambda kw: WebhookEndpoint.objects.order_by("pk"),
        "delivery_id": lambda kw: Delivery.objects.filter(
            endpoint_id=kw.get("endpoint_id")
        ).order_by("pk"),
        "link": lambda kw: [
            relationship_request_link(partner=agent.partner, by=agent, delegated_admin=True)
            for agent in User.objects.filter(username="adminagent")
        ],
    }
    urls = []
    for name, route in ROUTES.items():
        params = route.params
        if "uidb64" in params:  # a set-password link, for the user invited last
            urls.append(set_password_path(User.objects.get(username="newstaff")))
            continue
        combinations = [{}]
        for param in params:
            assert param in samples, f"{name}: say in _seed_urls where {param!r} values come from"
            combinations = [
                {**kw, param: getattr(value, "pk", value)}
                for kw in combinations
                for value in list(samples[param](kw))[:URLS_PER_ROUTE]
            ]
        urls += [
            route.url(**{k: quote(str(v), safe="") for k, v in kw.items()})
            for kw in combinations[:URLS_PER_ROUTE]
        ]
    return urls


def _sign_in(principal: str) -> Client:
    """A client signed in as `principal`, with our CSRF secret as its CSRF cookie."""
    client = Client(enforce_csrf_checks=True)
    if principal != ANONYMOUS:
        client.force_login(User.objects.get(username=principal.split("+")[0]))
        if principal != CODE_PENDING:
            session = client.session
            session.pop(two_step.PENDING_SESSION_KEY, None)  # as if the code was given
            session.save()
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
    return client


@contextlib.contextmanager
def _quiet_logging():
    """Django logs every 403, 404 and refused CSRF token, with its traceback: thousands."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


@pytest.fixture(scope="module")
def fuzz_world(request, django_db_setup, django_db_blocker):
    """The demo world (`seed_demo`, as the demo_world fixture runs it) and its enrichment, once
    for the module, in a transaction rolled back after the module."""
    started, cpu = time.monotonic(), time.process_time()
    with (
        _quiet_logging(),
        django_db_blocker.unblock(),
        override_settings(STORAGES=STATIC_FILES_FROM_SOURCE, PASSWORD_HASHERS=FAST_HASHERS),
        transaction.atomic(),
    ):
        call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
        _enrich_world()
        REPORT["seed_seconds"] = time.monotonic() - started
        yield
        transaction.set_rollback(True)
    REPORT["seconds"] = time.monotonic() - started
    REPORT["cpu_seconds"] = time.process_time() - cpu
    _report(request.config)


@pytest.fixture(scope="module")
def inventory(fuzz_world) -> dict[str, fuzzing.Inventory]:
    """Every principal's crawl of the world: pages, forms, query parameters, htmx targets."""
    started = time.monotonic()
    seeds = _seed_urls()
    found = {}
    for principal in PRINCIPALS:
        with transaction.atomic():
            found[principal] = fuzzing.crawl(_sign_in(principal), principal, seeds)
            transaction.set_rollback(True)
        REPORT["stats"].crawl_requests[principal] += found[principal].requests
    REPORT["crawl_seconds"] = time.monotonic() - started
    REPORT["inventory"] = _inventory_summary(found)
    return found


# ------------------------------------------------------------------------------------------
# From the crawl to the targets.


def _query_fields(route: str, found: dict) -> list[Field]:
    """A page's query parameters: the fields of its GET forms and the query keys of links to
    it (as any principal found them), and what its view reads from request.GET."""
    fields: dict[str, Field] = {}
    for inventory in found.values():
        for form in inventory.forms:
            if form.method == "GET" and form.route == route:
                for f in form.fields:
                    merged = fields.setdefault(f.name, Field(f.name, f.kind))
                    merged.choices = sorted({*merged.choices, *f.choices, *f.current})
        for name in inventory.query_params.get(route, ()):
            fields.setdefault(name, Field(name, fuzzing.kind_by_name(name)))
    for method, name in fuzzing.view_params(ROUTES[route]):
        if method == "GET":
            fields.setdefault(name, Field(name, fuzzing.kind_by_name(name)))
    return [fields[name] for name in sorted(fields)]


def _page_to_fuzz(inventory: fuzzing.Inventory, route: str) -> fuzzing.Page | None:
    """The principal's page of a route: one served (200 first), else any but a 405."""
    pages = [p for p in inventory.pages if p.route == route and p.status != 405]
    pages.sort(key=lambda p: (p.status != 200, not p.served))
    return pages[0] if pages else None


def _examples(n: float) -> int:
    return max(1, round(n * SCALE))


def targets_for(principal: str, found: dict, world: fuzzing.WorldValues) -> list[tuple]:
    """(target, examples) for every page the principal reaches and every form anyone found."""
    targets = []
    forged = {name: fuzzing.forged_urls(route, world) for name, route in ROUTES.items()}
    for route in sorted(ROUTES):
        page = _page_to_fuzz(found[principal], route)
        if page is None:
            continue
        fields = _query_fields(route, found)
        others = {p.url for inv in found.values() for p in inv.pages if p.route == route}
        htmx = {t for inv in found.values() for t in inv.htmx_targets.get(route, ())}
        target = Target(
            principal, "GET", route, page.url, fields, set(), sorted(htmx),
            sorted(others - {page.url})[:URLS_PER_ROUTE], forged[route], own=page.served,
        )  # fmt: skip
        examples = PAGE_EXAMPLES + 2 * len(fields) if page.served else REFUSED_PAGE_EXAMPLES
        targets.append((target, _examples(min(MOST_EXAMPLES, examples))))

    forms = {}  # the principal's own form first, else the first other principal's
    for who in sorted(PRINCIPALS, key=lambda p: p != principal):
        for form in found[who].forms:
            if form.method != "GET":
                forms.setdefault(form.key, (who, form))
    for key in sorted(forms, key=str):
        who, form = forms[key]
        in_form = {f.name for f in form.fields}
        read = sorted(fuzzing.view_params(ROUTES[form.route]))
        extra = [Field(n, fuzzing.kind_by_name(n)) for m, n in read if m == form.method]
        fields = form.fields + [f for f in extra if f.name not in in_form]
        others = {f.action for inv in found.values() for f in inv.forms if f.route == form.route}
        target = Target(
            principal, form.method, form.route, form.action, fields, in_form,
            [form.htmx_target] if form.htmx_target else [],
            sorted(others - {form.action})[:URLS_PER_ROUTE], forged[form.route],
            own=who == principal,
        )  # fmt: skip
        examples = FORM_EXAMPLES + len(fields) if target.own else FOREIGN_FORM_EXAMPLES
        targets.append((target, _examples(min(MOST_EXAMPLES, examples))))
    return targets


# ------------------------------------------------------------------------------------------
# The tests.


def test_every_route_is_fuzzed(inventory):
    """Every product URL is fuzzed: some principal was served its page, or a form posts to it.
    A URL with neither fails here: give the fuzz world an object for it (`_enrich_world`) or
    say where its path arguments come from (`_seed_urls`). A page that raised fails too."""
    errors = [error for inv in inventory.values() for error in inv.errors]
    assert not errors, "\n".join(errors)
    served = {p.route for inv in inventory.values() for p in inv.pages if p.served}
    posted_to = {f.route for inv in inventory.values() for f in inv.forms}
    missing = sorted(set(ROUTES) - served - posted_to)
    assert not missing, f"no principal was served a page of, or found a form to: {missing}"


@pytest.mark.parametrize(
    "route", ["customers:supported_subscriptions", "customers:supported_subscriptions_export"]
)
def test_a_resellers_supported_subscriptions_are_fuzzed_with_every_filter(inventory, route):
    """The page is a reseller's alone: its staff are served it, and every filter of its form
    (the export's link carries the same) and its paging is fuzzed."""
    served_to = {
        inv.principal
        for inv in inventory.values()
        for p in inv.pages
        if p.route == route and p.served
    }
    assert "fabrikam" in served_to
    fuzzed = {f.name for f in _query_fields(route, inventory)}
    assert {"q", "provider", "new"} <= fuzzed
    if route == "customers:supported_subscriptions":
        assert {"after", "before"} <= fuzzed


def _known_500s() -> dict[str, Probe]:
    """The inputs that answered 500 when the fuzzer was written; each was found by it again."""
    adatum = Customer.objects.get(domain=demo.ADATUM["domain"])
    request_new = f"/customers/{adatum.pk}/relationships/request/"
    date_to = (("date_to", "9999-12-31"),)
    sign_in = ((CSRF_FIELD, CSRF_SECRET), ("username", "a" * 256), ("password", "x"))
    return {
        "history-date-to": Probe("globaladmin", "GET", "customers:history", "/history/", date_to),
        "export-date-to": Probe(
            "globaladmin", "GET", "customers:history_export", "/history/export.csv", date_to
        ),
        "request-partner-superscript": Probe(
            "globaladmin",
            "GET",
            "customers:relationship_request_new",
            request_new,
            (("partner", "²"),),
        ),
        "invitation-nul": Probe(
            "adatumadmin", "GET", "relationships:invitation", "/invitations/%00/", ()
        ),
        "sign-in-long-username": Probe(
            ANONYMOUS, "POST", "partnercenter:login", "/accounts/login/", sign_in
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "history-date-to",
        "export-date-to",
        "request-partner-superscript",
        "invitation-nul",  # on PostgreSQL
        "sign-in-long-username",  # on PostgreSQL
    ],
)
def test_known_500_is_a_clear_answer(case, fuzz_world):
    probe = _known_500s()[case]
    fuzzer = Fuzzer(_sign_in(probe.principal), probe.principal, REPORT["stats"], REPORT["failures"])
    failure = fuzzer.focused(probe)
    assert failure is None, REPORT["failures"][failure.key].describe(probe.principal)


def _relationship_request(adatum) -> Probe:
    contoso = Partner.objects.get(partner_id=demo.PROVIDER["partner_id"])
    data = (
        (CSRF_FIELD, CSRF_SECRET),
        ("partner", str(contoso.pk)),
        ("include_delegated_admin", "on"),
    )
    url = f"/customers/{adatum.pk}/relationships/request/"
    return Probe("globaladmin", "POST", "customers:relationship_request_new", url, data)


def test_the_fuzzer_reports_an_exception_and_where_our_code_raised_it(fuzz_world, monkeypatch):
    def broken(**kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(relationship_services, "relationship_request_create", broken)
    fuzzer = Fuzzer(_sign_in("globaladmin"), "globaladmin", fuzzing.Stats(), {})
    failure = fuzzer.check(_relationship_request(Customer.objects.get(domain="adatum.example")))
    assert failure is not None
    assert failure.key[1] == "exception ZeroDivisionError"
    assert "customers/relationship_views.py" in failure.detail


def test_the_fuzzer_reports_a_refused_request_that_changed_something(fuzz_world, monkeypatch):
    def write_then_refuse(*, customer, partner, include_delegated_admin, by):
        Partner.objects.filter(pk=partner.pk).update(support_hours="changed, then refused")
        raise DomainError("Refused.")

    monkeypatch.setattr(relationship_services, "relationship_request_create", write_then_refuse)
    fuzzer = Fuzzer(_sign_in("globaladmin"), "globaladmin", fuzzing.Stats(), {})
    failure = fuzzer.check(_relationship_request(Customer.objects.get(domain="adatum.example")))
    assert failure is not None
    assert failure.key[1] == "refused but changed"
    assert "partnercenter.Partner" in failure.detail
    assert not Partner.objects.filter(support_hours="changed, then refused").exists()


def test_the_fuzzer_finds_a_bug_and_shrinks_its_input(fuzz_world, monkeypatch):
    from customers import forms as history

    def clean(self):
        if not self.data.get("customer", "").isascii():
            raise ValueError("a bug with non-ASCII names")

    monkeypatch.setattr(history.HistoryFilterForm, "clean", clean)
    fields = [Field("customer", "text"), Field("date_to", "date"), Field("page", "int")]
    target = Target(
        "globaladmin", "GET", "customers:history", "/history/", fields, set(), [], [], [], True
    )
    failures = {}
    fuzzer = Fuzzer(_sign_in("globaladmin"), "globaladmin", fuzzing.Stats(), failures)
    fuzzer.fuzz(target, fuzzing.world_values(), max_examples=50)
    [failure] = failures.values()
    assert failure.key[1] == "exception ValueError"
    assert failure.found_by == {"generated"}
    [(name, value)] = failure.probe.pairs  # nothing but what it takes
    assert name == "customer"
    assert not value.isascii()


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_no_input_breaks_a_page_or_a_form(principal, inventory):
    """Every page's query parameters and every form's fields, fuzzed as `principal`: never an
    exception or a 5xx; a refused request changes nothing; a GET changes nothing; after an
    accepted one every designated support contact is still eligible."""
    world = fuzzing.world_values()
    client = _sign_in(principal)
    # As a browser would: open the page before sending its form (a set-password link and a
    # two-step set-up keep what they need in the session).
    for page in sorted({f.page for f in inventory[principal].forms if f.method != "GET"}):
        client.get(page)
    fuzzer = Fuzzer(client, principal, REPORT["stats"], REPORT["failures"])
    for target, examples in targets_for(principal, inventory, world):
        if target.own and target.kind not in REPORT["swept"]:
            REPORT["swept"].add(target.kind)  # boundary values: once per page or form
            fuzzer.sweep(target)
        fuzzer.fuzz(target, world, examples)
    failures = [REPORT["failures"][key] for key in sorted(fuzzer.seen_here)]
    assert not failures, "\n".join(f.describe(principal) for f in failures)


# ------------------------------------------------------------------------------------------
# The report: the inventory, the counts, the failures.


def _inventory_summary(found: dict) -> dict:
    forms = {f.key for inv in found.values() for f in inv.forms}
    query = {name: [f.name for f in _query_fields(name, found)] for name in sorted(ROUTES)}
    return {
        "routes": len(ROUTES),
        "pages": len({p.route for inv in found.values() for p in inv.pages if p.status == 200}),
        "page_visits": sum(len(inv.pages) for inv in found.values()),
        "forms": len(forms),
        "fields": sum(len(key[2]) for key in forms),
        "get_params": sum(map(len, query.values())),
        "get_param_names": sorted({name for names in query.values() for name in names}),
        "routes_detail": {
            name: {
                "served_to": [
                    inv.principal
                    for inv in found.values()
                    if any(p.route == name and p.served for p in inv.pages)
                ],
                "forms": sorted(
                    {str(f.key) for inv in found.values() for f in inv.forms if f.route == name}
                ),
                "query": query[name],
            }
            for name in sorted(ROUTES)
        },
    }


def _report(config) -> None:
    stats, failures, summary = REPORT["stats"], REPORT["failures"], REPORT.get("inventory")
    lines = ["", "fuzz report"]
    if summary:
        lines.append(
            f"  inventory: {summary['routes']} routes, {summary['pages']} pages (200) in "
            f"{summary['page_visits']} visits, {summary['forms']} forms with "
            f"{summary['fields']} fields, {summary['get_params']} GET parameters "
            f"({', '.join(summary['get_param_names'])})"
        )
    for principal in PRINCIPALS:
        if stats.targets[principal] or stats.focused[principal]:
            lines.append(
                f"  {principal:28} {stats.targets[principal]:4} targets "
                f"{stats.examples[principal]:5} generated {stats.focused[principal]:4} given "
                f"{stats.crawl_requests[principal]:4} crawled  {stats.seconds[principal]:5.1f} s"
            )
    requests = sum(stats.examples.values()) + sum(stats.focused.values())
    requests += sum(stats.crawl_requests.values())
    lines.append(
        f"  total: {sum(stats.targets.values())} targets, {sum(stats.examples.values())} "
        f"generated examples, {sum(stats.focused.values())} given, {requests} requests; "
        f"seed {REPORT.get('seed_seconds', 0):.1f} s, crawl {REPORT.get('crawl_seconds', 0):.1f} "
        f"s, module {REPORT.get('seconds', 0):.1f} s ({REPORT.get('cpu_seconds', 0):.1f} s CPU)"
    )
    outcomes = Counter(outcome for (_, outcome), n in stats.outcomes.items() for _ in range(n))
    lines.append(f"  answers: {dict(outcomes)}")
    lines.append(f"  failures: {len(failures)}")
    for failure in failures.values():
        lines += [f"   {line}" for line in failure.describe().splitlines()]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        for line in lines:
            (reporter.write_line if reporter else print)(line)
    if path := os.environ.get("FUZZ_REPORT"):
        with open(path, "w", encoding="utf-8") as out:
            json.dump(
                {
                    "inventory": summary,
                    "targets": stats.targets,
                    "generated": stats.examples,
                    "given": stats.focused,
                    "crawled": stats.crawl_requests,
                    "answers": {" ".join(k): n for k, n in sorted(stats.outcomes.items())},
                    "failures": [f.describe() for f in failures.values()],
                },
                out,
                indent=2,
                ensure_ascii=False,
            )
