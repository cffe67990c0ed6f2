"""`make bench-api`: the API's support-contact calls beside a bare view, served as in production.

Issue 12 asks that GET and PUT supportcontact each reach at least half the requests per second of
a bare view behind the same middleware, on PostgreSQL at 10,000 customers. This script builds (or
reuses) that world in a PostgreSQL database of its own (BENCH_API_DATABASE_URL), serves it with
gunicorn as bench/run.py does (the API's throttle raised, DJANGO_API_RATE_LIMIT), and loads with
wrk, for the same time each and in rounds that alternate them:

- the floors (bench/urls.py): bench/run.py's /bench/floor/, a fixed answer after the whole
  middleware stack with a signed-in session and its user: "a bare view behind the same
  middleware" as issue 11 defined it for the pages, so the target is judged against it;
  /v1/bench/floor/, a fixed JSON answer under /v1/ with no caller at all (no session, no token:
  what the middleware alone costs); and /v1/bench/floor/token/, that plus the API's bearer-token
  check (what any call costs before its own work);
- GET supportcontact, spread over many subscriptions;
- PUT supportcontact, each wrk connection on subscriptions of its own (no two PUTs race), each
  PUT switching between the provider and an eligible reseller: every one a real write with its
  history row, checked against the history afterwards; and PUT of the current contact (no-op).

Each is reported with requests/s, latency, server CPU per request (gunicorn and the PostgreSQL
backends, from /proc), queries per request, every answer's status, and its ratio to the floors
(the median over the rounds of the ratio within each round: the machine's other load moves both).
A cProfile of each call in this process shows where its time goes. The report is written to
bench/results/api-<date>.md.

    .venv/bin/python -m bench.api                 # 10,000 customers (builds the world once)
    .venv/bin/python -m bench.api --smoke         # a tiny world, 3 seconds per call
    .venv/bin/python -m bench.api --unprepared    # without prepared statements
    .venv/bin/python -m bench.api --cache-url redis://127.0.0.1:6379/14   # throttle in Redis
"""

import argparse
import cProfile
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench.run import (
    RESULTS,
    ROOT,
    SMOKE,
    CpuMeter,
    Page,
    Result,
    _free_port,
    _manage,
    prepare_world,
    profile_request,
    serve_as_in_production,
    signed_in_clients,
    start_server,
    wrk,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/partnercenter_bench_api"
SMOKE_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/partnercenter_bench_api_smoke"
FULL = {"customers": 10_000, "resellers": 500, "history": 100_000}
# High enough that no call is refused (429) under load; the throttle still runs on every call.
RATE_LIMIT = "10000000/min"
TARGET = 0.5  # × the floor's requests/s, for GET and PUT (issue 12)
USER = "globaladmin"  # staff of Contoso, the provider, who may assign support contacts


@dataclass
class Call(Page):
    """One kind of request: a floor or an API call, and how wrk spreads it."""

    kind: str = "floor"  # floor | get | put-change | put-same
    token: str = ""  # the bearer token; none: the session cookie (the page floor)
    short: str = ""  # its column in the profile

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass
class Measured:
    call: Call
    rounds: list[Result] = field(default_factory=list)
    postgres_ms: list[float] = field(default_factory=list)  # per request, each round
    statuses: dict[str, int] = field(default_factory=dict)
    queries: int = 0
    bytes: int = 0
    slowest_ms: float = 0.0
    slowest_sql: str = ""
    plan: str = ""
    notes: list[str] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.rounds)


# The subscriptions -------------------------------------------------------------------------------


def contested(count: int) -> list[dict]:
    """`count` of Contoso's subscriptions that take a designated contact and have an eligible
    reseller besides the provider, as the API names them (the newest first: bulk-loaded ones)."""
    from customers.eligibility import contact_options
    from customers.models import Subscription
    from demo import world

    found = []
    subscriptions = Subscription.objects.filter(
        provider__partner_id=world.PROVIDER["partner_id"]
    ).select_related("customer", "provider", "support_contact")
    for subscription in subscriptions.order_by("-pk").iterator(chunk_size=500):
        if not subscription.supports_designated_contact:
            continue
        provider = subscription.provider
        resellers = [p for p in contact_options(subscription).eligible if p != provider]
        # The reseller designated now, if any: every contact the PUTs leave is one of the two.
        resellers.sort(key=lambda p: p != subscription.support_contact)
        if resellers:
            found.append(
                {
                    "pk": subscription.pk,
                    "path": (
                        f"/v1/customers/{subscription.customer.tenant_id}"
                        f"/subscriptions/{subscription.uuid}/supportcontact"
                    ),
                    "contacts": [_body(provider), _body(resellers[0])],
                    "tenants": [str(provider.tenant_id), str(resellers[0].tenant_id)],
                }
            )
            if len(found) == count:
                return found
    raise SystemExit(f"Only {len(found)} subscriptions with two eligible contacts: too small.")


def _body(partner) -> str:
    """What a client PUTs: the contact as GET shows it (the SDK sends the whole object)."""
    return json.dumps(
        {
            "supportTenantId": str(partner.tenant_id),
            "supportMpnId": partner.partner_id,
            "name": partner.name,
        }
    )


def current_contacts(subscriptions: list[dict]) -> dict[int, int]:
    """Each subscription's effective contact now: 0 the provider, 1 the reseller."""
    from customers.models import Subscription

    rows = Subscription.objects.filter(pk__in=[s["pk"] for s in subscriptions]).select_related(
        "provider", "support_contact"
    )
    effective = {row.pk: str(row.effective_support_contact.tenant_id) for row in rows}
    return {s["pk"]: s["tenants"].index(effective[s["pk"]]) for s in subscriptions}


def plans(call: Call, shares: list[list[dict]]) -> list[list[tuple[str, str, str | None]]]:
    """What each wrk connection sends, in a loop: (method, path, body).

    A change visits each of its connection's subscriptions with the contact it does not have,
    then again with the one it had: every PUT is a write, and no other connection touches those
    subscriptions, so none is refused as stale (no If-Match: the SDK sends none unless told)."""
    if call.kind == "floor":
        return [[("GET", call.path, None)] for _ in shares]
    if call.kind == "get":
        return [[("GET", s["path"], None) for s in share] for share in shares]
    now = current_contacts([s for share in shares for s in share])
    if call.kind == "put-same":
        return [
            [("PUT", s["path"], s["contacts"][now[s["pk"]]]) for s in share] for share in shares
        ]
    return [
        [("PUT", s["path"], s["contacts"][1 - now[s["pk"]]]) for s in share]
        + [("PUT", s["path"], s["contacts"][now[s["pk"]]]) for s in share]
        for share in shares
    ]


# wrk ---------------------------------------------------------------------------------------------

# One Lua state per wrk thread, and one connection per thread: each connection sends its own plan
# in order, one request at a time, and counts the answers by status.
LUA = """
local plans = {plans}
local count = 0
local threads = {{}}

function setup(thread)
  count = count + 1
  thread:set("id", count)
  table.insert(threads, thread)
end

function init(args)
  requests = {{}}
  local put = {{["Content-Type"] = "application/json"}}
  for name, value in pairs(wrk.headers) do put[name] = value end
  for i, call in ipairs(plans[(id - 1) % #plans + 1]) do
    requests[i] = wrk.format(call[1], call[2], call[3] and put or nil, call[3])
  end
  position = 0
  statuses = {{}}
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      io.write(string.format("status %d %d\\n", status, n))
    end
  end
end
"""


def _lua_string(text: str) -> str:
    assert "]==]" not in text
    return f"[==[{text}]==]"


def lua_script(plan: list[list[tuple]], folder: Path) -> Path:
    rows = ",\n".join(
        "{"
        + ", ".join(
            "{" + ", ".join(_lua_string(v) if v is not None else "nil" for v in c) + "}"
            for c in connection
        )
        + "}"
        for connection in plan
    )
    script = folder / "plan.lua"
    script.write_text(LUA.format(plans="{\n" + rows + "\n}"))
    return script


@dataclass
class Load:
    result: Result
    statuses: dict[str, int]  # the answers by status
    postgres_ms: float  # PostgreSQL's part of the CPU per request
    written: int  # history rows written by the API meanwhile


def measure(call: Call, shares, port, cookie, args, meter, folder) -> Load:
    """A second of warm-up (not for --smoke), then `args.seconds` of wrk: one connection per
    wrk thread, each sending its plan."""
    headers = {"Cookie": cookie} if not call.token else call.headers
    if not args.smoke:
        run = lua_script(plans(call, shares), folder)
        wrk(port, call.path, headers, 1, args.connections, threads=args.connections, script=run)
        time.sleep(0.5)  # a request cut off when wrk stopped may still be writing
    script = lua_script(plans(call, shares), folder)  # afresh: the warm-up wrote too
    before = api_history_rows()
    meter.start()
    load = wrk(
        port,
        call.path,
        headers,
        args.seconds,
        args.connections,
        threads=args.connections,
        script=script,
    )
    cpu = meter.stop()
    time.sleep(0.5)
    written = api_history_rows() - before
    statuses = {}
    for line in load["output"].splitlines():
        if line.startswith("status "):
            _, status, n = line.split()
            statuses[status] = statuses.get(status, 0) + int(n)
    requests = max(load["requests"], 1)
    result = Result(
        call,
        requests=load["requests"],
        rate=load["rate"],
        p50_ms=load["p50_ms"],
        p99_ms=load["p99_ms"],
        cpu_ms=cpu / requests,
    )
    return Load(result, statuses, meter.postgres_ms / requests, written)


def api_history_rows() -> int:
    from customers.models import SupportContactChange

    return SupportContactChange.objects.filter(through=SupportContactChange.Through.API).count()


# Where the time goes: cProfile in this process ---------------------------------------------------

# (label, [(file ending, function name), ...]): CPU time of this process, the callee included.
WHOLE = "whole request: Django's handler, every middleware, the view"
VIEW = "· the view"
PARTS = [
    (WHOLE, [("django/core/handlers/base.py", "get_response")]),
    (
        VIEW,
        [
            ("ninja/operation.py", "_sync_view"),
            ("bench/urls.py", "floor"),
            ("bench/urls.py", "api_floor"),
            ("bench/urls.py", "api_floor_token"),
        ],
    ),
    ("·· bearer token: its query, SHA-256", [("api/auth.py", "authenticate")]),
    (
        "·· throttle: the token's count in the cache",
        [("ninja/throttling.py", "allow_request"), ("api/auth.py", "allow_request")],
    ),
    ("·· parameters (pydantic)", [("ninja/operation.py", "_get_values")]),
    (
        "·· the endpoint function",
        [
            ("api/endpoints.py", "support_contact_get"),
            ("api/endpoints.py", "support_contact_update"),
        ],
    ),
    ("··· roles: their query", [("partnercenter/models.py", "roles")]),
    ("··· subscription lookup: its query", [("api/endpoints.py", "_subscription")]),
    ("··· body read", [("api/endpoints.py", "_json_object")]),
    ("··· named partner: its query", [("api/endpoints.py", "_named_partner")]),
    (
        "··· support_contact_assign: the write",
        [("customers/services.py", "support_contact_assign")],
    ),
    ("··· representation", [("api/representations.py", "support_contact")]),
    ("·· answer: pydantic validation, dump, JSON", [("ninja/operation.py", "_result_to_response")]),
    ("··· pydantic model_validate", [("pydantic/main.py", "model_validate")]),
    ("··· JSON rendering (create_response)", [("ninja/main.py", "create_response")]),
    ("session and user: their queries (page floor)", [("contrib/auth/__init__.py", "get_user")]),
    ("SQL: psycopg execute (send, wait not counted, receive)", [("psycopg/cursor.py", "execute")]),
    ("SQL: the ORM compiling statements", [("django/db/models/sql/compiler.py", "as_sql")]),
    ("SQL: the ORM making model instances", [("django/db/models/base.py", "from_db")]),
]


def profile_breakdown(send, count: int) -> list[tuple[str, float]]:
    """CPU milliseconds per request in this process of each part of PARTS (the callees
    included), over `count` requests; then the middleware's share: the whole less the view."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for i in range(count):
        send(i)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    parts = {}
    for label, functions in PARTS:
        parts[label] = sum(
            cumulative * 1000 / count
            for (path, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.items()
            if (path.replace(os.sep, "/").endswith(tuple(f for f, n in functions if n == name)))
        )
    rows = [(label, parts[label]) for label, _ in PARTS]
    rows.insert(1, ("· middleware, URL resolving, Django's handler", parts[WHOLE] - parts[VIEW]))
    return rows


# The report --------------------------------------------------------------------------------------


def report(measured: list[Measured], floor: Measured, extra: list[str], sizes, args) -> str:
    bare_floor = measured[1]  # no caller: shown beside the judged floor

    def ratio(m: Measured, base: Measured) -> float:
        return statistics.median(
            r.rate / b.rate if b.rate else 0 for r, b in zip(m.rounds, base.rounds, strict=True)
        )

    cache = f"(the throttle's) {args.cache_url}" if args.cache_url else "in each worker"
    lines = [
        f"# partnercenter API benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"World: {sizes} on PostgreSQL. gunicorn {args.workers} workers; wrk {args.connections} "
        f"threads × 1 connection, {args.seconds:g} s per request kind and round, "
        f"{args.rounds} round(s) alternating the kinds; DJANGO_API_RATE_LIMIT={args.rate_limit}, "
        f"one token; prepared statements {'off (--unprepared)' if args.unprepared else 'on'}; "
        "cache "
        f"{cache}. "
        "Figures are medians over the rounds; × floor is the median of each round's "
        "ratio. Server CPU = gunicorn + the PostgreSQL backends of this database, from /proc.",
        "",
        f"| request | queries | CPU ms / request | of which PostgreSQL | requests/s | "
        f"× {floor.call.name} | × {bare_floor.call.name} | p50 ms | p99 ms | answers |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for m in measured:
        answers = ", ".join(f"{n} × {status}" for status, n in sorted(m.statuses.items()))
        lines.append(
            f"| {m.call.name} | {m.queries} | {m.median('cpu_ms'):.2f} | "
            f"{statistics.median(m.postgres_ms):.2f} | {m.median('rate'):.0f} "
            f"| {ratio(m, floor):.2f} | {ratio(m, bare_floor):.2f} | {m.median('p50_ms'):.1f} "
            f"| {m.median('p99_ms'):.1f} | {answers} |"
        )
    lines += [
        "",
        f"## Against the target of issue 12: ≥ {TARGET:g}× the requests/s of a bare view",
        "",
        f"Judged against {floor.call.name}: bench/run.py's floor, the bare view behind the same "
        "middleware that issue 11 judged every page against (a signed-in caller, its session and "
        f"user read). {bare_floor.call.name}, the middleware with no caller at all, is shown "
        "beside it.",
        "",
        "| call | requests/s × judged floor | CPU/request × | met? "
        "| requests/s × no-caller floor | CPU/request × | met? |",
        "|---|--:|--:|---|--:|--:|---|",
    ]
    for m in measured:
        if m.call.kind == "floor":
            continue
        cells = []
        for base in (floor, bare_floor):
            by_rate = ratio(m, base)
            by_cpu = base.median("cpu_ms") / m.median("cpu_ms") if m.median("cpu_ms") else 0
            cells += [f"{by_rate:.2f}", f"{by_cpu:.2f}", "yes" if by_rate >= TARGET else "no"]
        lines.append(f"| {m.call.name} | " + " | ".join(cells) + " |")
    lines += ["", "Requests/s in each round:", ""]
    for m in measured:
        lines.append(f"- {m.call.name}: " + ", ".join(f"{r.rate:.0f}" for r in m.rounds))
    lines += ["", *extra, ""]
    notes = [f"- {m.call.name}: {n}" for m in measured for n in m.notes]
    if notes:
        lines += ["Notes:", *notes, ""]
    lines.append("## The slowest statement of each call, with its plan")
    for m in measured:
        if m.slowest_sql:
            lines += ["", f"### {m.call.name} ({m.slowest_ms:.2f} ms)", "", "```sql"]
            lines += [m.slowest_sql[:2000], "```"]
            if m.plan:
                lines += ["", "```", m.plan, "```"]
    return "\n".join(lines) + "\n"


def profile_table(profiles: dict[str, list[tuple[str, float]]], count: int) -> list[str]:
    names = list(profiles)
    lines = [
        f"## Where the time goes (cProfile in this process, {count} requests each)",
        "",
        "CPU ms per request of the server's Python (cProfile on the process clock, the callees "
        "included; cProfile's overhead inflates them, so read the shares). PostgreSQL's own CPU "
        "is not in it (it is in the load table's CPU), nor is waiting for it.",
        "",
        "| part | " + " | ".join(names) + " |",
        "|---|" + "--:|" * len(names),
    ]
    labels = [label for label, _ in next(iter(profiles.values()))]
    for i, label in enumerate(labels):
        cells = []
        for name in names:
            value, whole = profiles[name][i][1], profiles[name][0][1]
            cells.append(f"{value:.2f} ({100 * value / whole:.0f}%)" if value and whole else "")
        if any(cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


# Main --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny world, 3 s per call")
    parser.add_argument("--rebuild", action="store_true", help="build the world even if present")
    parser.add_argument("--seconds", type=float, default=10, help="wrk seconds per call, round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (threads)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-connection", type=int, default=50, help="subscriptions each")
    parser.add_argument("--profile-requests", type=int, default=300, help="cProfile, per call")
    parser.add_argument("--rate-limit", default=RATE_LIMIT, help="DJANGO_API_RATE_LIMIT")
    parser.add_argument(
        "--unprepared",
        action="store_true",
        help="DJANGO_DB_PREPARED_STATEMENTS=0 (production turns them on)",
    )
    parser.add_argument(
        "--cache-url",
        default="",
        help="DJANGO_CACHE_URL for the servers, e.g. redis://127.0.0.1:6379/14 (a database the "
        "run may write to): the throttle counts there, as with several servers",
    )
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (0: a free one)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the report")
    for what in FULL:
        parser.add_argument(f"--{what}", type=int, default=None, help=f"{what} in the world")
    args = parser.parse_args(argv)
    if args.smoke:
        # 3 s, not 1: with no warm-up, a loaded machine (CI's other test worker) once served
        # no PUT within the first second.
        args.seconds, args.rounds, args.connections = 3, 1, 2
        args.per_connection, args.profile_requests = 3, 10
    sizes = dict(SMOKE if args.smoke else FULL)
    sizes.update({what: getattr(args, what) for what in FULL if getattr(args, what) is not None})
    sizes = {what: count for what, count in sizes.items() if count}
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `make bench-api` installs it (Debian package wrk).")

    url = os.environ.get(
        "BENCH_API_DATABASE_URL", SMOKE_DATABASE_URL if args.smoke else DEFAULT_DATABASE_URL
    )
    serve_as_in_production(
        url,
        DJANGO_API_RATE_LIMIT=args.rate_limit,
        DJANGO_DB_PREPARED_STATEMENTS="0" if args.unprepared else "1",
    )
    os.environ.pop("DJANGO_CACHE_URL", None)  # each worker's own memory, as bench/run.py
    if args.cache_url:
        os.environ["DJANGO_CACHE_URL"] = args.cache_url
    prepare_world(url, sizes, args.rebuild)
    _manage("collectstatic", "--no-input", "-v", "0")  # the page floor's template needs it
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from partnercenter.api_tokens import api_token_issue
    from partnercenter.models import User

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # autovacuum may be off: the planner needs statistics

    spare, *subscriptions = contested(1 + args.connections * args.per_connection)
    shares = [subscriptions[i :: args.connections] for i in range(args.connections)]
    _token, raw = api_token_issue(
        user=User.objects.get(username=USER), name=f"bench-api {datetime.now(UTC):%Y-%m-%d %H:%M}"
    )
    first = subscriptions[0]["path"]
    calls = [
        Call(
            "floor: /bench/floor/ (session + user)", "/bench/floor/", user=USER, short="page floor"
        ),
        Call(
            "floor: /v1/bench/floor/ (no auth)", "/v1/bench/floor/", token=raw, short="/v1/ floor"
        ),
        Call(
            "floor: /v1/bench/floor/token/ (bearer token)",
            "/v1/bench/floor/token/",
            token=raw,
            short="token floor",
        ),
        Call("GET supportcontact", first, kind="get", token=raw, short="GET"),
        Call("PUT supportcontact (a change)", first, kind="put-change", token=raw, short="PUT"),
        Call(
            "PUT supportcontact (the current contact: no-op)",
            first,
            kind="put-same",
            token=raw,
            short="PUT no-op",
        ),
    ]
    judged = 0  # the page floor: bench/run.py's bare view behind the same middleware

    # In this process: queries, the slowest statement, and where the time goes.
    session_client = signed_in_clients([USER])[USER]
    api_client = Client()
    measured = [Measured(call) for call in calls]
    spare_contact = {"now": current_contacts([spare])[spare["pk"]]}

    def send(call: Call, client, result: Result | None = None):
        """One request in this process (profiled into `result` if given); a change switches
        the spare subscription's contact, tracked here so that no query of ours is profiled."""
        target = replace(call, path=spare["path"]) if call.kind != "floor" else call
        if call.kind in ("floor", "get"):
            if result is None:
                return client.get(target.path, headers=call.headers)
            return profile_request(client, "get", target, result)
        if call.kind == "put-change":
            spare_contact["now"] = 1 - spare_contact["now"]
        body = spare["contacts"][spare_contact["now"]]
        if result is None:
            return client.put(
                target.path, body, content_type="application/json", headers=call.headers
            )
        return profile_request(client, "put", target, result, body, content_type="application/json")

    profiles = {}
    for m in measured:
        client = session_client if not m.call.token else api_client
        result = Result(m.call)
        send(m.call, client, result)  # warm
        result = Result(m.call)
        send(m.call, client, result)
        m.queries, m.bytes, m.notes = result.queries, result.bytes, result.notes
        m.slowest_ms, m.slowest_sql, m.plan = result.slowest_ms, result.slowest_sql, result.plan
        profiles[m.call.short] = profile_breakdown(
            lambda i, call=m.call, client=client: send(call, client), args.profile_requests
        )
    cookie = f"sessionid={session_client.cookies['sessionid'].value}"
    with connection.cursor() as cursor:  # this process's backend: its queries are not billed
        cursor.execute("SELECT pg_backend_pid()")
        own_backend = cursor.fetchone()[0]

    args.port = args.port or _free_port()
    server = start_server(args.port, args.workers)
    extra = []
    try:
        meter = CpuMeter(server, urlsplit(url).path.lstrip("/"), {os.getpid(), own_backend})
        with tempfile.TemporaryDirectory() as folder:
            for round_ in range(args.rounds):
                for m in measured:
                    load = measure(m.call, shares, args.port, cookie, args, meter, Path(folder))
                    result = load.result
                    m.rounds.append(result)
                    m.postgres_ms.append(load.postgres_ms)
                    for status, n in load.statuses.items():
                        m.statuses[status] = m.statuses.get(status, 0) + n
                    if m.call.kind == "put-change" or load.written:
                        extra.append(
                            f"Round {round_ + 1}, {m.call.name}: {load.statuses.get('200', 0)} "
                            f"answered 200, {load.written} history rows written by the API "
                            "(the request each connection had in flight when wrk stopped may "
                            "have been served too)."
                        )
                    print(
                        f"round {round_ + 1}, {m.call.name}: {result.rate:.0f}/s, "
                        f"{result.cpu_ms:.2f} ms CPU/request, {load.statuses}"
                    )
    finally:
        server.terminate()
        server.wait(timeout=30)

    for m in measured:
        if set(m.statuses) - {"200"}:
            m.notes.append("answers other than 200: " + json.dumps(m.statuses))
    text = report(measured, measured[judged], extra, sizes, args)
    text += "\n" + "\n".join(profile_table(profiles, args.profile_requests)) + "\n"
    print(text)
    stamp = f"{datetime.now(UTC):%Y-%m-%d-%H%M}"
    suffix = "".join(
        name
        for name, wanted in [
            ("-unprepared", args.unprepared),
            ("-cache", args.cache_url),
            ("-smoke", args.smoke),
        ]
        if wanted
    )
    out = args.out or RESULTS / f"api-{stamp}{suffix}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"Written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
