"""The machinery of tests/test_fuzz.py: what to fuzz, with what, and what must hold.

- What: discovered, not listed. Every product URL is visited as each principal with the ids of
  real objects and the links found are followed (`crawl`); every `<form>` of every page is
  parsed (`parse_page`); the request parameters the views read are found in the apps' source
  (`scan_request_params`: `request.GET.get("…")`, `request.POST["…"]`, a form class bound to
  `request.GET`, in the view or in a function it calls).
- With what: Hypothesis strategies (`probe_strategy`) mixing the form's own values with long
  strings, NUL and control characters, non-ASCII digits, odd numbers and dates, empty values,
  missing and repeated keys, the ids of every object in the database and forged URLs; and,
  once per page or form, every field with the boundary values of its kind (`boundary_probes`).
- What must hold (`Fuzzer.check`): no input is answered with an exception or a 5xx; a refused
  request (4xx, an error or warning shown, a redirect carrying an error message) changes no
  domain table; a GET changes none either; after an accepted request every designated support
  contact is still eligible.
"""

import ast
import copy
import functools
import hashlib
import importlib
import inspect
import re
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode, urljoin, urlsplit

from django import forms as django_forms
from django.apps import apps
from django.contrib.messages import constants as message_levels
from django.db import connection, transaction
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st

from tests.urlwalk import BACK_OFFICE_PREFIX, Route

ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ("customers", "relationships", "partnercenter", "notifications", "events")
CSRF_FIELD = "csrfmiddlewaretoken"
# Our own CSRF secret (32 letters and digits) as cookie and as form token, so that a form found
# by one principal can be sent by another without a CSRF refusal, unless the token is fuzzed.
CSRF_SECRET = "fuzzFUZZfuzzFUZZfuzzFUZZfuzzFUZZ"

# ------------------------------------------------------------------------------------------
# The request parameters the views read, from their source.


def _request_data(node) -> str | None:
    """'GET' or 'POST' for an expression `<request>.GET` or `<request>.POST`."""
    if isinstance(node, ast.Attribute) and node.attr in ("GET", "POST"):
        return node.attr
    return None


def _bound_to(node) -> str | None:
    """The request data a form is bound to: `Form(request.GET)`, `Form(request.POST or None)`."""
    if isinstance(node, ast.BoolOp):
        return next(filter(None, map(_request_data, node.values)), None)
    return _request_data(node)


def _reads(function: ast.AST, module_name: str) -> tuple[set, set]:
    """The (method, name) pairs `function` reads from the request, and the names it calls."""
    found, called = set(), set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            func = node.func
            first = node.args[0] if node.args else None
            if (
                isinstance(func, ast.Attribute)
                and func.attr in ("get", "getlist")
                and (method := _request_data(func.value))
                and isinstance(first, ast.Constant)
            ):
                found.add((method, str(first.value)))
            if isinstance(func, ast.Name):
                called.add(func.id)
                if first is not None and (method := _bound_to(first)):
                    form = getattr(importlib.import_module(module_name), func.id, None)
                    if inspect.isclass(form) and issubclass(form, django_forms.BaseForm):
                        found |= {(method, name) for name in form.base_fields}
        elif isinstance(node, ast.Subscript) and (method := _request_data(node.value)):
            if isinstance(node.slice, ast.Constant):
                found.add((method, str(node.slice.value)))
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant):
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In) and (method := _request_data(right)):
                    found.add((method, str(node.left.value)))
    return found, called


@functools.cache
def scan_request_params() -> dict[tuple[str, str], frozenset]:
    """{(module, function): {(method, name)}} for every module-level function of the apps,
    with what the module-level functions it calls read (a view's helpers)."""
    reads, calls = {}, {}
    for package in APP_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for top in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
                    found, called = _reads(top, module_name)
                    reads[module_name, top.name] = found
                    calls[module_name, top.name] = {(module_name, name) for name in called}
    closed = {}
    for key in reads:
        seen, stack, names = {key}, [key], set()
        while stack:
            current = stack.pop()
            names |= reads[current]
            for callee in calls[current] & reads.keys() - seen:
                seen.add(callee)
                stack.append(callee)
        closed[key] = frozenset(names)
    return closed


def view_params(route: Route) -> frozenset:
    """The (method, name) pairs a route's view reads, itself or through its helpers."""
    view = inspect.unwrap(route.view)
    key = (getattr(view, "__module__", ""), getattr(view, "__name__", ""))
    return scan_request_params().get(key, frozenset())


# ------------------------------------------------------------------------------------------
# Pages and forms, from the HTML.


@dataclass
class Field:
    name: str
    kind: str  # text, int, choice, date, bool, email, url, password, hidden, csrf
    current: list[str] = field(default_factory=list)  # what a browser would send as it is
    choices: list[str] = field(default_factory=list)  # the other values the page offers


@dataclass
class Form:
    page: str  # the URL of the page it is on
    method: str
    action: str  # path and query
    route: str  # the url name of the action
    fields: list[Field]
    htmx_target: str | None = None

    @property
    def key(self) -> tuple:
        return (self.method, self.route, tuple(sorted({f.name for f in self.fields})))


INPUT_KINDS = {
    "number": "int",
    "date": "date",
    "checkbox": "bool",
    "radio": "choice",
    "email": "email",
    "url": "url",
    "password": "password",
    "hidden": "hidden",
}
NOT_SENT = {"submit", "button", "reset", "image", "file"}


def kind_by_name(name: str, kind: str = "text") -> str:
    """A field's kind from its name, where its input type does not say (hidden, text)."""
    if name == CSRF_FIELD:
        return "csrf"
    if "date" in name:
        return "date"
    if name in ("page", "version", "partner", "request") or name.endswith("_id"):
        return "int"
    if name == "next":
        return "url"
    if "password" in name:
        return "password"
    if name == "dap":
        return "bool"
    return kind


class PageParser(HTMLParser):
    """The forms, the links and the htmx requests (URL, target id) of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.links: list[str] = []
        self.htmx: list[tuple[str, str]] = []
        self._form = self._select = self._option = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        for verb in ("hx-get", "hx-post"):
            if a.get(verb) and a.get("hx-target", "").startswith("#"):
                self.htmx.append((a[verb], a["hx-target"][1:]))
        if tag == "form":
            self._form = {"attrs": a, "fields": []}
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "text": "", "selected": "selected" in a}
        if self._form is None or "disabled" in a or not a.get("name"):
            return
        name, kind = a["name"], a.get("type", "text").lower()
        if tag == "input" and kind in ("checkbox", "radio"):
            value = a.get("value", "on")
            self._field(name, INPUT_KINDS[kind], value if "checked" in a else None, value)
        elif tag == "input" and kind not in NOT_SENT:
            self._field(name, INPUT_KINDS.get(kind, "text"), a.get("value", ""), None)
        elif tag in ("input", "button"):  # a named submit button: sent when clicked
            self._field(name, "text", None, a.get("value", ""))
        elif tag == "select":
            self._select = {"name": name, "options": [], "selected": []}
        elif tag == "textarea":
            self._textarea = {"name": name, "text": ""}

    def handle_data(self, data):
        for open_element in (self._option, self._textarea):
            if open_element is not None:
                open_element["text"] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None and self._select is not None:
            value = self._option["value"]
            value = value if value is not None else self._option["text"].strip()
            self._select["options"].append(value)
            if self._option["selected"]:
                self._select["selected"].append(value)
            self._option = None
        elif tag == "select" and self._select is not None:
            select, kind = self._select, kind_by_name(self._select["name"], "choice")
            for value in select["selected"] or select["options"][:1]:
                self._field(select["name"], kind, value, None)
            for value in select["options"]:
                self._field(select["name"], kind, None, value)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._field(self._textarea["name"], "text", self._textarea["text"], None)
            self._textarea = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None

    def _field(self, name, kind, current, choice):
        fields = self._form["fields"]
        found = next((f for f in fields if f.name == name), None)
        if found is None:
            found = Field(name, kind_by_name(name, kind) if kind in ("text", "hidden") else kind)
            fields.append(found)
        if current is not None:
            found.current.append(current)
        if choice is not None and choice not in found.choices:
            found.choices.append(choice)


def route_of(url: str) -> str | None:
    """The url name of a product URL (a path, with or without a query), else None."""
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return None
    if not match.url_name or match.route.startswith(BACK_OFFICE_PREFIX):
        return None
    return match.view_name


def local(url: str) -> str | None:
    """The path and query of a URL of this site, else None."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "testserver") or parts.scheme not in ("", "http", "https"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def parse_page(page_url: str, html: str) -> tuple[list[Form], list[str], list[tuple[str, str]]]:
    """The forms (to product URLs), the links and the htmx requests of a page."""
    parser = PageParser()
    parser.feed(html)
    parser.close()
    forms = []
    for raw in parser.forms:
        attrs = raw["attrs"]
        hx_url = attrs.get("hx-post") or attrs.get("hx-get")
        action = local(urljoin(page_url, attrs.get("action") or hx_url or page_url))
        if action is None or (route := route_of(action)) is None:
            continue
        target = attrs.get("hx-target", "").removeprefix("#") if hx_url else ""
        method = (attrs.get("method") or "get").upper()
        forms.append(Form(page_url, method, action, route, raw["fields"], target or None))
    links = [urljoin(page_url, href) for href in parser.links]
    htmx = [(urljoin(page_url, url), target) for url, target in parser.htmx]
    return forms, links, htmx


# ------------------------------------------------------------------------------------------
# The crawl.

# Where a principal is sent before anything else opens: a page behind it is not served.
GATES = {"partnercenter:login", "partnercenter:two_step_verify", "partnercenter:two_step_setup"}
MAX_VISITS_PER_ROUTE = 3
MAX_CRAWL = 160


@dataclass
class Page:
    principal: str
    route: str
    url: str
    status: int
    location: str = ""  # where a redirect leads

    @property
    def served(self) -> bool:
        """The principal got the page: 200, or a redirect elsewhere than sign-in or the code."""
        if 300 <= self.status < 400:
            return route_of(self.location) not in (*GATES, None)
        return self.status == 200


@dataclass
class Inventory:
    principal: str
    pages: list[Page] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    query_params: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    htmx_targets: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    errors: list[str] = field(default_factory=list)  # plain pages that raised
    requests: int = 0


def crawl(client, principal: str, seeds: list[str]) -> Inventory:
    """GET the home page, the seed URLs and the product links found, a few URLs per route;
    note the pages, their forms, their links' query keys and their htmx targets."""
    inventory = Inventory(principal)
    queue, visited, visits = ["/", *seeds], set(), Counter()
    while queue and inventory.requests < MAX_CRAWL:
        url = queue.pop(0)
        route = route_of(url)
        if route is None or url in visited or visits[route] >= MAX_VISITS_PER_ROUTE:
            continue
        visited.add(url)
        visits[route] += 1
        inventory.requests += 1
        try:
            response = client.get(url)
            body = b"".join(response.streaming_content) if response.streaming else response.content
        except Exception as error:
            inventory.errors.append(f"GET {url} as {principal}: {error!r} at {app_frame(error)}")
            continue
        status, location = response.status_code, response.get("Location", "")
        inventory.pages.append(Page(principal, route, url, status, location))
        for pair in filter(None, urlsplit(url).query.split("&")):
            inventory.query_params[route].add(pair.split("=")[0])
        if status in (403, 405):
            visits[route] = MAX_VISITS_PER_ROUTE  # the same for every object of the route
        if 300 <= status < 400 and (target := local(urljoin(url, location))):
            if route_of(target) in GATES and route not in GATES:
                visits[route] = MAX_VISITS_PER_ROUTE
            queue.insert(0, target)
        if status == 200 and "html" in response.get("Content-Type", ""):
            forms, links, htmx = parse_page(url, body.decode("utf-8", "replace"))
            inventory.forms += forms
            for form in forms:
                if form.method == "GET":
                    inventory.query_params[form.route] |= {f.name for f in form.fields}
            for link, target in htmx:
                if name := route_of(link):
                    inventory.htmx_targets[name].add(target)
            queue += [path for path in map(local, links) if path and route_of(path)]
    return inventory


# ------------------------------------------------------------------------------------------
# Values.

INT_VALUES = [
    "-1", "0", "1", "2", "2147483647", str(2**31), str(2**63 - 1), str(2**63), str(10**30),
    "9" * 40, "1e3", " 1", "1 ", "+1", "-0", "1.0", "1.5", "0x1f", "00000001", "NaN", "inf",
    "²", "٣", "５", "１２", "߂", "1_000",
]  # fmt: skip
DATE_VALUES = [
    "0001-01-01", "9999-12-31", "9999-12-30", "2026-02-30", "2026-02-29", "2024-02-29",
    "99999-01-01", "2026-13-01", "0000-00-00", "2026-1-1", "31.12.2026", "12/31/2026",
    "2026-01-01T00:00", "9999-12-31T23:59:59", "٢٠٢٦-٠١-٠١", "２０２６-０１-０１",
    "-2026-01-01", "2026-W01",
]  # fmt: skip
TEXT_VALUES = [
    "", " ", "\x00", "a\x00b", "\x01\x02\x1b\x7f", "\r\n", "\t", "\u202e\u200b\ufeff",
    "'\"<>&;", "<script>x</script>", "%", "_", "\\", "%00", "=1+1", "@SUM(1)", "İıß",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "é", "😀", "zh-hant", "../../etc/passwd", "None", "null",
]  # fmt: skip
BOOL_VALUES = ["on", "off", "0", "1", "true", "false", "", "yes", "²", "on\x00"]
URL_VALUES = [
    "/", "1", "home", "//evil.example/", "https://evil.example/", "javascript:alert(1)",
    "/\\evil.example", "\\\\evil.example", "/customers/", "/%00", "///", "http:/x",
    "/" + "a" * 3000,
]  # fmt: skip
EMAIL_VALUES = ["a@b.example", "@", "a@", "a" * 300 + "@example.com", "ü@ü.example", "a@b\x00.c"]
PASSWORD_VALUES = ["partnercenter-demo", "x", "a" * 5000, "\x00", "пароль-пароль-1"]
RAW_BYTES = [b"\xff", b"\xc3", b"%", b"\xed\xa0\x80"]  # invalid UTF-8, percent-encoded as is
KIND_VALUES = {
    "int": INT_VALUES,
    "choice": INT_VALUES,
    "date": DATE_VALUES,
    "text": TEXT_VALUES,
    "hidden": INT_VALUES + TEXT_VALUES,
    "bool": BOOL_VALUES,
    "url": URL_VALUES,
    "email": EMAIL_VALUES,
    "password": PASSWORD_VALUES,
    "csrf": ["", "x", CSRF_SECRET.lower(), "a" * 64],
}
LONG_LENGTHS = (256, 10_001, 100_000)
ODD_PATH_INTS = ["0", str(2**63), str(10**30)]
ODD_PATH_STRINGS = ["\x00", "a" * 10_001, "²"]
# Every field is also tried once (per page or form) with each boundary value of its kind.
BOUNDARY_VALUES = {
    "int": ["²", "-1", str(2**63), str(10**30), "1e3"],
    "choice": ["²", "-1", str(2**63), ""],
    "date": ["9999-12-31", "0001-01-01", "2026-02-30", "99999-01-01"],
    "bool": ["²", "\x00"],
    "url": ["1", "//evil.example/", "\x00"],
    "csrf": [],
}
BOUNDARY_TEXT = ["", "\x00", "a" * 10_001, "٣"]
# What a person types into an empty field of a kind, so that the checks of the other fields
# are reached (a sign-in with an empty password never looks at the username).
PLAUSIBLE = {
    "text": "fuzz",
    "password": "partnercenter-demo",
    "email": "fuzz@example.com",
    "int": "1",
    "date": "2026-01-01",
}


@dataclass
class WorldValues:
    ids: list[str]  # the id of every object in the database, and other keys (MPN ids, tokens)
    path_ints: list[str]
    path_strings: list[str]


def world_values() -> WorldValues:
    """The ids of every object of the apps, other partners' included, and their other keys."""
    pks = set()
    for label in APP_PACKAGES:
        for model in apps.get_app_config(label).get_models():
            pks |= {str(pk) for pk in model.objects.values_list("pk", flat=True)}
    partner_ids = apps.get_model("partnercenter", "Partner").objects.values_list(
        "partner_id", flat=True
    )
    tokens = apps.get_model("relationships", "RelationshipRequest").objects.values_list(
        "token", flat=True
    )
    usernames = apps.get_model("partnercenter", "User").objects.values_list("username", flat=True)
    ids = pks | set(partner_ids) | set(tokens) | set(usernames)
    return WorldValues(
        ids=sorted(ids, key=lambda v: (len(v), v)),
        path_ints=sorted(pks, key=int) or ["1"],
        path_strings=sorted(tokens) or ["token"],
    )


def own_values(f: Field) -> list[str]:
    """What a browser sends for a field as the page has it; for an empty one, what a person
    would type."""
    if f.kind == "csrf":
        return [CSRF_SECRET]
    if f.current and not any(f.current) and f.kind in PLAUSIBLE:
        return [PLAUSIBLE[f.kind]]
    return list(f.current)


def weighted(*pairs):
    """One of the strategies, chosen with the given weights; shrinks towards the first."""
    choices = [strategy for weight, strategy in pairs for _ in range(weight)]
    return st.integers(0, len(choices) - 1).flatmap(lambda i: choices[i])


def value_strategy(f: Field, world: WorldValues):
    own = sorted(set(f.current) | set(f.choices))
    long_strings = st.builds(
        lambda char, n: char * n,
        st.sampled_from(["a", "٣", "é", "\x00", "1", "😀"]),
        st.sampled_from(LONG_LENGTHS),
    )
    return weighted(
        (4, st.sampled_from(KIND_VALUES.get(f.kind, TEXT_VALUES))),
        *([(3, st.sampled_from(own))] if own else []),
        (2, st.sampled_from(world.ids)),
        (1, st.sampled_from(INT_VALUES + DATE_VALUES + TEXT_VALUES)),
        (1, long_strings),
        (1, st.text(st.characters(exclude_categories=("Cs",)), max_size=24)),
        (1, st.sampled_from(RAW_BYTES)),
    )


# A plan per field; shrinking goes to the first, so that a minimal example changes little.
KEEP, OMIT, SET, TWICE = "keep", "omit", "set", "twice"


def field_plan(f: Field, world: WorldValues, *, in_form: bool):
    """Keep the field (mostly, for a field of the form), leave it out (mostly, for a query
    parameter), give it a fuzzed value, or give it twice."""
    values = value_strategy(f, world)
    keep, omit = st.just((KEEP,)), st.just((OMIT,))
    set_, twice = st.tuples(st.just(SET), values), st.tuples(st.just(TWICE), values, values)
    if f.kind == "csrf":
        return weighted((12, keep), (1, omit), (1, set_), (1, twice))
    if in_form:
        return weighted((3, keep), (1, omit), (3, set_), (1, twice))
    return weighted((3, omit), (3, set_), (1, twice), (1, keep))


# ------------------------------------------------------------------------------------------
# Targets and probes.


@dataclass
class Target:
    """A page (GET with a query string) or a form (to its action), sent by one principal."""

    principal: str
    method: str
    route: str
    url: str  # the page, or the form's action
    fields: list[Field]  # the form's fields (and what the view reads), or the query parameters
    in_form: set[str]  # the fields the form itself sends
    htmx_targets: list[str]
    other_urls: list[str]  # the same route with other objects, as other principals found it
    forged_urls: list[str]  # the same route with forged path arguments
    own: bool  # the principal was served the page, or found the form itself

    @property
    def identity(self) -> tuple:
        return (self.principal, self.method, self.route, tuple(sorted(self.in_form)))

    @property
    def kind(self) -> tuple:
        """The same page or form, whoever sends it."""
        return (self.method, self.route, tuple(sorted(f.name for f in self.fields)))


@dataclass(frozen=True)
class Probe:
    """One request: what a reproduction needs."""

    principal: str
    method: str
    route: str
    url: str
    pairs: tuple  # ((key, value), …) in order; keys may repeat
    htmx_target: str | None = None

    def encoded(self) -> str:
        return urlencode(list(self.pairs))

    def __repr__(self):
        data = ", ".join(f"{short(k)}: {short(v)}" for k, v in self.pairs)
        htmx = f" HX-Target: {self.htmx_target}" if self.htmx_target else ""
        return f"{self.method} {short(self.url, 200)} as {self.principal}{htmx} data={{{data}}}"


def short(value, limit: int = 60) -> str:
    if isinstance(value, str) and len(value) > limit:
        if len(set(value)) == 1:
            return f"{value[0]!r} * {len(value)}"
        return f"{value[: limit // 2]!r}…({len(value)} chars)"
    return repr(value)


def probe_strategy(target: Target, world: WorldValues):
    """Requests for `target`: each field kept, left out, fuzzed or given twice; now and then
    junk keys, 1,001 keys, another object's or a forged URL, an htmx request."""
    plans = {f.name: field_plan(f, world, in_form=f.name in target.in_form) for f in target.fields}
    by_name = {f.name: f for f in target.fields}
    junk = st.tuples(
        st.sampled_from([*sorted(by_name), "", "\x00", "a" * 300, "é", "x[]", "__proto__"]),
        value_strategy(Field("junk", "text"), world),
    )
    extra = weighted(
        (8, st.just(())),
        (3, st.lists(junk, min_size=1, max_size=2).map(tuple)),
        (1, st.just((("k", "v"),) * 1001)),  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
    )
    urls = weighted(
        (12, st.just(target.url)),
        *([(2, st.sampled_from(target.other_urls))] if target.other_urls else []),
        *([(2, st.sampled_from(target.forged_urls))] if target.forged_urls else []),
    )
    htmx = st.none()
    if target.htmx_targets:
        htmx = weighted((3, st.none()), (1, st.sampled_from(target.htmx_targets)))

    def build(drawn) -> Probe:
        url, chosen, extra_pairs, htmx_target = drawn
        pairs = []
        for name, plan in sorted(chosen.items()):
            f = by_name[name]
            if plan[0] == KEEP:
                pairs += [(name, v) for v in (own_values(f) if name in target.in_form else [""])]
            elif plan[0] == SET:
                pairs.append((name, plan[1]))
            elif plan[0] == TWICE:
                pairs += [(name, plan[1]), (name, plan[2])]
        pairs += extra_pairs
        return Probe(target.principal, target.method, target.route, url, tuple(pairs), htmx_target)

    return st.tuples(urls, st.fixed_dictionaries(plans), extra, htmx).map(build)


def forged_urls(route: Route, world: WorldValues) -> list[str]:
    """The route with path arguments no page of the principal links to: an object of another
    kind or partner, odd numbers, odd strings (a pattern they do not match answers 404)."""
    if not route.params:
        return []
    ints = [world.path_ints[len(world.path_ints) // 2], *ODD_PATH_INTS]
    strings = [*world.path_strings[:1], *ODD_PATH_STRINGS]
    urls = []
    for i in range(max(len(ints), len(strings))):
        values = {}
        for name in route.params:
            pool = ints if route.takes_int(name) else strings
            values[name] = quote(pool[i % len(pool)], safe="")
        urls.append(route.url(**values))
    return list(dict.fromkeys(urls))


def boundary_probes(target: Target) -> list[Probe]:
    """Each field left out, given each boundary value of its kind, given twice; then the
    forged URLs with the form's own values. Deterministic: these never depend on luck."""
    own = [(f.name, v) for f in target.fields if f.name in target.in_form for v in own_values(f)]
    probes = []

    def probe(pairs, url=target.url):
        probes.append(Probe(target.principal, target.method, target.route, url, tuple(pairs)))

    for f in target.fields:
        others = [(k, v) for k, v in own if k != f.name]
        if f.kind == "csrf":
            continue
        if f.name in target.in_form:
            probe(others)
        for value in BOUNDARY_VALUES.get(f.kind, BOUNDARY_TEXT):
            probe([*others, (f.name, value)])
        first = (f.current or f.choices or ["1"])[0]
        probe([*others, (f.name, first), (f.name, "²")])
    for url in target.forged_urls:
        probe(own, url)
    return probes


# ------------------------------------------------------------------------------------------
# What must hold.

# Columns that change on a refused request by design: the time of a sign-in, the throttling of
# wrong codes. Unconfirmed authenticators (a set-up in progress) are left out too.
VOLATILE_COLUMNS = {
    "last_login",
    "throttling_failure_count",
    "throttling_failure_timestamp",
    "last_used_at",
    "last_t",
    "drift",
}
FINGERPRINT_APPS = (*APP_PACKAGES, "otp_totp", "otp_static")
# Bookkeeping a GET writes by design, not the domain: when a user last viewed a page (what the
# page marks "New since your last visit").
NOT_FINGERPRINTED = {"partnercenter.PageVisit"}


@functools.cache
def _fingerprint_queries() -> tuple[tuple[str, str], ...]:
    """(model label, SQL reading its rows in order) for every domain table."""
    quote_name = connection.ops.quote_name
    queries = []
    for label in FINGERPRINT_APPS:
        for model in apps.get_app_config(label).get_models():
            if model._meta.label in NOT_FINGERPRINTED:
                continue
            fields = model._meta.concrete_fields
            columns = [quote_name(f.column) for f in fields if f.attname not in VOLATILE_COLUMNS]
            where = " WHERE confirmed" if any(f.name == "confirmed" for f in fields) else ""
            sql = (
                f"SELECT {', '.join(columns)} FROM {quote_name(model._meta.db_table)}{where} "
                f"ORDER BY {quote_name(model._meta.pk.column)}"
            )
            queries.append((model._meta.label, sql))
    return tuple(queries)


@functools.cache
def _digest_query() -> str | None:
    """On PostgreSQL, one query for a hash of every domain table (one round trip, not 17)."""
    if connection.vendor != "postgresql":
        return None
    rows = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
    return " UNION ALL ".join(
        f"SELECT '{label}', {rows} FROM ({sql}) t" for label, sql in _fingerprint_queries()
    )


def fingerprint() -> dict[str, tuple]:
    """Every row of every domain table (users, roles and their changes, partners, customers,
    subscriptions, history, partnerships, relationships, requests, confirmed two-step devices
    and recovery codes), read with plain SQL: cheap enough for every example."""
    tables = {}
    with connection.cursor() as cursor:
        for label, sql in _fingerprint_queries():
            cursor.execute(sql)
            tables[label] = tuple(cursor.fetchall())
    return tables


def digest():
    """Equal when, and only when (but for an md5 collision), `fingerprint()` is."""
    if (sql := _digest_query()) is None:
        return fingerprint()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(cursor.fetchall())


def fingerprint_diff(before: dict, after: dict) -> str:
    changes = []
    for table in sorted(before):
        old, new = set(before[table]), set(after[table])
        if old != new:
            gone, added = sorted(old - new, key=str)[:2], sorted(new - old, key=str)[:2]
            changes.append(
                f"{table}: {len(old)}→{len(new)} rows, "
                f"-{[short(str(r), 160) for r in gone]} +{[short(str(r), 160) for r in added]}"
            )
    return "; ".join(changes)


ERROR_MARKERS = ("message-error", "message-warning", "errorlist", "has-error", 'role="alert"')


def refused(response, html: str) -> bool:
    """4xx; or an error or a warning on the page, or queued for the page redirected to."""
    if 400 <= response.status_code < 500:
        return True
    storage = getattr(response.wsgi_request, "_messages", None)
    if any(m.level >= message_levels.WARNING for m in getattr(storage, "_queued_messages", ())):
        return True
    return response.status_code < 300 and any(marker in html for marker in ERROR_MARKERS)


def eligibility_violations() -> list[str]:
    """Subscriptions whose designated support contact is not eligible (DOMAIN.md's invariant)."""
    from customers.eligibility import contact_options
    from customers.models import Subscription

    violations = []
    designated = Subscription.objects.exclude(support_contact_id=None).select_related(
        "provider", "support_contact"
    )
    for subscription in designated:
        if subscription.support_contact_id == subscription.provider_id:
            continue
        if not subscription.supports_designated_contact:
            violations.append(f"subscription {subscription.pk}: new commerce, with a contact")
        elif not contact_options(subscription).is_eligible(subscription.support_contact):
            violations.append(f"subscription {subscription.pk}: {subscription.support_contact}")
    return violations


def app_frame(error: BaseException) -> str:
    """Where an exception was raised: the innermost frame of our code, else the innermost
    frame outside the database layers."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [
        f
        for f in frames
        if any(f"/{p}/" in f.filename for p in APP_PACKAGES) and "/tests/" not in f.filename
    ]
    outside_db = [f for f in frames if not re.search(r"/django/db/|/psycopg/|sqlite3", f.filename)]
    frame = (ours or outside_db or frames)[-1]
    path = frame.filename.removeprefix(f"{ROOT}/")
    return f"{path}:{frame.lineno} in {frame.name}: {frame.line}"


@dataclass
class Failure:
    key: tuple  # (route, what broke, where)
    probe: Probe  # the first input that broke it, or the shrunk one
    detail: str
    hits: int = 1
    probes: dict = field(default_factory=dict)  # principal -> its first (or shrunk) input
    found_by: set = field(default_factory=set)  # focused, boundary, generated

    def describe(self, principal: str | None = None) -> str:
        return (
            f"{' / '.join(filter(None, self.key))}: {self.detail}\n"
            f"  reproduce: {self.probes.get(principal, self.probe)!r}\n"
            f"  found by {'/'.join(sorted(self.found_by))}, {self.hits} hit(s), as "
            f"{', '.join(sorted(self.probes))}"
        )


class FuzzFailure(AssertionError):
    """A broken rule and its input. One subclass per kind of break, so that Hypothesis tells
    distinct bugs apart and shrinks each."""

    @classmethod
    @functools.cache
    def of(cls, key: tuple):
        return type("FuzzFailure_" + re.sub(r"\W+", "_", "_".join(key))[:80], (cls,), {})


# ------------------------------------------------------------------------------------------
# Sending and checking.


@dataclass
class Stats:
    crawl_requests: Counter = field(default_factory=Counter)
    examples: Counter = field(default_factory=Counter)  # generated ones, shrinking included
    focused: Counter = field(default_factory=Counter)  # given ones: boundary values, known 500s
    targets: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)  # (method route, accepted/refused/…)


class Fuzzer:
    """Sends probes as one principal, each in a savepoint rolled back afterwards, and checks
    them; notes every failure in `failures` (shared by the whole run, by key)."""

    def __init__(self, client, principal: str, stats: Stats, failures: dict):
        self.client = client
        self.principal = principal
        self.stats = stats
        self.failures = failures
        self.cookies = copy.deepcopy(client.cookies)
        self.baseline, self.baseline_digest = fingerprint(), digest()
        self.seen_here: set = set()  # the keys of the failures met as this principal
        self.shrinking: set = set()  # the keys Hypothesis is shrinking now

    def send(self, probe: Probe):
        headers = (
            {"HX-Request": "true", "HX-Target": probe.htmx_target} if probe.htmx_target else {}
        )
        data = probe.encoded()
        if probe.method == "GET":
            joiner = "&" if "?" in probe.url else "?"
            return self.client.get(
                f"{probe.url}{joiner}{data}" if data else probe.url, headers=headers
            )
        return self.client.generic(
            probe.method,
            probe.url,
            data,
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )

    def check(self, probe: Probe) -> Failure | None:
        """Send `probe` from the same start as every other; the rule it broke, if any."""
        self.client.cookies = copy.deepcopy(self.cookies)
        with transaction.atomic():
            failure = self._check(probe)
            transaction.set_rollback(True)
        return failure

    def _check(self, probe: Probe) -> Failure | None:
        try:
            response = self.send(probe)
            # A streamed answer (the CSV export) fails while it streams, if it fails.
            body = b"".join(response.streaming_content) if response.streaming else response.content
        except Exception as error:
            where = app_frame(error)
            return Failure(
                (probe.route, f"exception {type(error).__name__}", where.split(" in ")[0]),
                probe,
                f"{type(error).__name__}: {short(str(error), 300)} at {where}",
            )
        status = response.status_code
        if status >= 500:
            return Failure((probe.route, f"status {status}", ""), probe, f"answered {status}")
        html = body.decode("utf-8", "replace") if "html" in response.get("Content-Type", "") else ""
        outcome = "refused" if refused(response, html) else "accepted"
        self.stats.outcomes[f"{probe.method} {probe.route}", outcome] += 1
        if digest() == self.baseline_digest or (after := fingerprint()) == self.baseline:
            return None
        if outcome == "refused" or probe.method == "GET":
            what = "refused but changed" if outcome == "refused" else "GET changed"
            diff = fingerprint_diff(self.baseline, after)
            return Failure((probe.route, what, ""), probe, f"answered {status}; {diff}")
        if violations := eligibility_violations():
            return Failure(
                (probe.route, "ineligible contact", ""),
                probe,
                f"answered {status}; {violations[:3]}; {fingerprint_diff(self.baseline, after)}",
            )
        return None

    def note(self, failure: Failure, *, source: str, shrunk: bool = False) -> None:
        known = self.failures.setdefault(failure.key, failure)
        if known is not failure:
            known.hits += 1
        if shrunk or self.principal not in known.probes:
            known.probes[self.principal] = failure.probe
        if shrunk:
            known.probe = failure.probe
        known.found_by.add(source)
        self.seen_here.add(failure.key)

    def focused(self, probe: Probe, source: str = "focused") -> Failure | None:
        """One given input."""
        self.stats.focused[self.principal] += 1
        failure = self.check(probe)
        if failure is not None:
            self.note(failure, source=source)
        return failure

    def sweep(self, target: Target) -> None:
        """Every field of `target` with the boundary values of its kind, and its forged URLs."""
        started = time.monotonic()
        for probe in boundary_probes(target):
            self.focused(probe, "boundary")
        self.stats.seconds[self.principal] += time.monotonic() - started

    def fuzz(self, target: Target, world: WorldValues, max_examples: int) -> None:
        """Hypothesis examples for `target`. A failure not met before is raised, so that
        Hypothesis shrinks it to a minimal example; one met before is counted and passed over,
        so that the search goes on for others."""
        started = time.monotonic()
        self.stats.targets[self.principal] += 1
        # derandomize alone would give every principal the same examples of the same form.
        target_seed = int.from_bytes(hashlib.sha256(repr(target.identity).encode()).digest()[:8])

        @settings(
            max_examples=max_examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=(Phase.generate, Phase.shrink),
            verbosity=Verbosity.quiet,
        )
        @seed(target_seed)
        @given(probe_strategy(target, world))
        def run(probe):
            self.stats.examples[self.principal] += 1
            failure = self.check(probe)
            if failure is None:
                return
            if failure.key in self.failures and failure.key not in self.shrinking:
                self.note(failure, source="generated")
                return
            self.shrinking.add(failure.key)
            raise FuzzFailure.of(failure.key)(failure)

        try:
            run()
        except FuzzFailure as error:
            self.note(error.args[0], source="generated", shrunk=True)
        except BaseExceptionGroup as group:  # several distinct failures
            matched, rest = group.split(FuzzFailure)
            if rest is not None:
                raise
            for error in _leaves(matched):
                self.note(error.args[0], source="generated", shrunk=True)
        finally:
            self.shrinking.clear()
            self.stats.seconds[self.principal] += time.monotonic() - started


def _leaves(group: BaseExceptionGroup):
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)
        else:
            yield error
