"""`make bench`: every page of partnercenter at a distributor's size, served as in production.

Builds the world in a PostgreSQL database of its own (BENCH_DATABASE_URL), serves it with
gunicorn, loads each page with wrk, and reads the server CPU each request cost from /proc: the
gunicorn workers and the PostgreSQL backends serving the benchmark's database. Server CPU per
request is the figure to compare runs by; requests/s and latency move with whatever else the
shared machine is doing. Each page is also given as a ratio to the floor (a fixed response behind
the same middleware, bench/urls.py) and to the matching Django admin page. The report also holds
a bulk change (bench/bulk.py) and one task worker delivering webhooks (bench/webhooks.py).

    .venv/bin/python -m bench.run                 # the full size (builds the world once)
    .venv/bin/python -m bench.run --smoke         # a tiny world, a second per page
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.bulk import measure_bulk
from bench.webhooks import measure_apart as measure_webhooks

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/partnercenter_bench"
FULL = {"customers": 100_000, "resellers": 5_000, "history": 1_000_000}
SMOKE = {"customers": 60, "resellers": 12, "history": 300}
BULK_FULL, BULK_SMOKE = 10_000, 200  # subscriptions of the bulk change measured (bench/bulk.py)
WEBHOOKS_FULL, WEBHOOKS_SMOKE = 3_000, 200  # webhooks one worker delivers (bench/webhooks.py)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SLOW_SECONDS = 1.0  # a page this slow in-process is loaded one request at a time, not by wrk


@dataclass
class Page:
    name: str
    path: str
    user: str = "globaladmin"
    htmx_target: str = ""
    admin_match: str = ""  # the name of the Django admin page doing the same job

    @property
    def headers(self) -> dict[str, str]:
        if not self.htmx_target:
            return {}
        return {"HX-Request": "true", "HX-Target": self.htmx_target}


@dataclass
class Result:
    page: Page
    requests: int = 0
    rate: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_ms: float = 0.0
    queries: int = 0
    slowest_ms: float = 0.0
    slowest_sql: str = ""
    plan: str = ""
    bytes: int = 0
    seconds: float = 0.0  # of the in-process request
    notes: list[str] = field(default_factory=list)


# The world -------------------------------------------------------------------------------------


def _maintenance_dsn(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts._replace(path="/postgres").geturl(), parts.path.lstrip("/")


def _world_label(sizes: dict) -> str:
    return "bench world " + " ".join(f"{k}={v}" for k, v in sorted(sizes.items()))


def prepare_world(url: str, sizes: dict, rebuild: bool) -> None:
    """Build the world unless the database already holds one of this size."""
    import psycopg

    maintenance, name = _maintenance_dsn(url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        if row and row[0] == _world_label(sizes) and not rebuild:
            print(f"Reusing the world in {name} ({row[0]}).")
            _manage("migrate", "--no-input", "-v", "0")  # the code may have moved on
            return
        print(f"Building the world in {name}: {sizes}...")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    started = time.monotonic()
    _manage("migrate", "--no-input", "-v", "0")
    _manage(
        "seed_demo",
        *(f"--{what}={count}" for what, count in sizes.items()),
        "--seed=1",
    )
    print(f"World built in {time.monotonic() - started:.0f} s.")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{_world_label(sizes)}'")


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True, env=os.environ)


# The server ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, workers: int) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "partnercenter.wsgi",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--log-level=warning",
        "--timeout=600",  # a slow page is measured, not killed at gunicorn's 30 s
        "--no-control-socket",  # two servers of one user would share one (and remove it)
    ]
    # The site logs a line per request, as in production (its cost is measured), into a file:
    # the benchmark's own output stays its report.
    descriptor, log = tempfile.mkstemp(prefix=f"bench-gunicorn-{port}-", suffix=".log")
    server = subprocess.Popen(command, cwd=ROOT, env=os.environ, stderr=descriptor)
    os.close(descriptor)  # the server holds its own copy
    for _ in range(100):  # up to 20 s
        try:
            connection = HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/accounts/login/")
            connection.getresponse().read()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"gunicorn did not start; its log: {log}")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def server_pids(server: subprocess.Popen, database: str, exclude: set[int]) -> list[int]:
    """The gunicorn master and workers, and the PostgreSQL backends of the benchmark's database."""
    pids = [server.pid]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        pid = int(entry.name)
        fields = _stat(pid)
        if fields is None:
            continue
        worker = int(fields[1]) == server.pid  # its parent is the gunicorn master
        command = _cmdline(pid)
        if worker or (command.startswith("postgres: ") and f" {database} " in command):
            pids.append(pid)
    return pids


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    ticks = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


class CpuMeter:
    """Server CPU spent between `start()` and `stop()`, in milliseconds."""

    def __init__(self, server, database, exclude):
        self.server, self.database, self.exclude = server, database, exclude

    def start(self):
        self.before = cpu_ticks(server_pids(self.server, self.database, self.exclude))

    def stop(self) -> float:
        """The whole; `postgres_ms` is then the PostgreSQL backends' part of it."""
        after = cpu_ticks(server_pids(self.server, self.database, self.exclude))
        spent = {pid: t - self.before.get(pid, 0) for pid, t in after.items()}
        backends = sum(t for pid, t in spent.items() if _cmdline(pid).startswith("postgres: "))
        self.postgres_ms = backends * 1000 / CLOCK_TICKS
        return sum(spent.values()) * 1000 / CLOCK_TICKS


# Load ------------------------------------------------------------------------------------------


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    port, path: str, headers: dict, seconds: float, connections: int, *, threads=1, script=None
) -> dict:
    """wrk on one path of the server (a Lua `script` may choose each request), for `seconds`:
    its figures, and its output for what the script prints."""
    duration = max(1, round(seconds))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        *(arg for k, v in headers.items() for arg in ("-H", f"{k}: {v}")),
        *(["-s", str(script)] if script else []),
        f"http://127.0.0.1:{port}{path}",
    ]
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    percentile = dict(re.findall(r"\s(50|99)%\s+([\d.]+\w+)", out))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": requests,
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(*re.fullmatch(r"([\d.]+)(\w+)", percentile["50"]).groups()),
        "p99_ms": _ms(*re.fullmatch(r"([\d.]+)(\w+)", percentile["99"]).groups()),
        "errors": int(errors.group(1)) if errors else 0,
        "output": out,
    }


def run_wrk(port, page: Page, cookie: str, seconds: float, connections: int) -> dict:
    return wrk(port, page.path, {"Cookie": cookie, **page.headers}, seconds, connections)


def measure_page(page, port, cookie, seconds, connections, meter) -> Result:
    result = Result(page)
    run_wrk(port, page, cookie, 1, connections)  # warm the workers and their connections
    meter.start()
    load = run_wrk(port, page, cookie, seconds, connections)
    cpu = meter.stop()
    result.requests, result.rate = load["requests"], load["rate"]
    result.p50_ms, result.p99_ms = load["p50_ms"], load["p99_ms"]
    result.cpu_ms = cpu / max(load["requests"], 1)
    if load["errors"]:
        result.notes.append(f"{load['errors']} answers were not 2xx/3xx")
    return result


# In-process: query counts, the slowest statement and its plan -----------------------------------


class StatementTimer:
    """Every statement a request runs, timed to the microsecond (the test utilities keep only
    milliseconds), with its parameters, so the slowest can be explained as it ran."""

    def __init__(self):
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((time.perf_counter() - started, sql, params))


def profile_request(client, method: str, page: Page, result: Result, data=None, **more) -> None:
    """One request in this process: its queries, the slowest with its plan, its size and time
    (`more`: the test client's other arguments, e.g. content_type)."""
    from django.db import connection

    timer = StatementTimer()
    started = time.perf_counter()
    with connection.execute_wrapper(timer):
        response = getattr(client, method)(page.path, data=data, headers=page.headers, **more)
        content = b"".join(response.streaming_content) if response.streaming else response.content
    result.seconds = time.perf_counter() - started
    result.bytes = len(content)
    result.queries = len(timer.statements)
    if response.status_code != 200:
        result.notes.append(f"in-process answer {response.status_code}")
    if not timer.statements:
        return
    seconds, sql, params = max(timer.statements, key=lambda s: s[0])
    result.slowest_ms = seconds * 1000
    with connection.cursor() as cursor:
        mogrify = getattr(cursor.cursor, "mogrify", None)  # not with server-side binding
        if params:
            result.slowest_sql = mogrify(sql, params) if mogrify else f"{sql}\n-- {params!r}"
        else:
            result.slowest_sql = sql
        if sql.lstrip().upper().startswith("SELECT"):
            # A statement of seconds is explained without running it again.
            explain = "EXPLAIN (ANALYZE, BUFFERS) " if seconds < 2 else "EXPLAIN "
            cursor.execute(explain + sql, params)
            result.plan = "\n".join(row[0] for row in cursor.fetchall())


# Submit: the one write, which wrk cannot drive (each answer carries the next version) -----------


def measure_one_by_one(port, page: Page, headers: dict, bodies, meter) -> Result:
    """Requests sent one after the other from a plain client: for what wrk cannot drive (Submit,
    whose every answer carries the next version) and for pages too slow to load with it (a
    request still running after wrk stops would be billed to the next page)."""
    result = Result(page)
    connection = HTTPConnection("127.0.0.1", port, timeout=600)
    timings = []
    meter.start()
    for i, body in enumerate(bodies):
        started = time.perf_counter()
        connection.request("POST" if body else "GET", page.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            result.notes.append(f"request {i} answered {response.status}")
            break
    cpu = meter.stop()
    result.requests = len(timings)
    result.cpu_ms = cpu / max(len(timings), 1)
    timings.sort()
    if timings:
        result.p50_ms = timings[len(timings) // 2]
        result.p99_ms = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
        result.rate = 1000 * len(timings) / sum(timings)
    return result


def measure_submit(port, cookie, csrf, target, count, meter) -> Result:
    """`count` htmx Submits on one subscription, switching between two eligible contacts and
    sending the version the previous answer left, as a person on the page would."""
    page = Page("Submit (htmx)", target["url"], htmx_target="contact-section")
    headers = {
        "Cookie": cookie,
        "X-CSRFToken": csrf,
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"http://127.0.0.1:{port}/",
        **page.headers,
    }
    contacts, version = target["contacts"], target["version"]
    bodies = [
        urlencode({"contact": contacts[i % 2], "version": version + i}) for i in range(count)
    ]  # main() checks that every version landed
    return measure_one_by_one(port, page, headers, bodies, meter)


def measure_export(port, cookie, meter) -> str:
    """The whole history as CSV: rows per second, and the workers' memory before and after."""
    rss_before = _workers_peak_rss(meter.server)
    connection = HTTPConnection("127.0.0.1", port, timeout=600)
    meter.start()
    started = time.perf_counter()
    connection.request("GET", "/history/export.csv", headers={"Cookie": cookie})
    response = connection.getresponse()
    rows, tail = 0, b""
    while chunk := response.read(1 << 16):
        rows += chunk.count(b"\n")
        tail = chunk
    seconds = time.perf_counter() - started
    cpu = meter.stop()
    rows -= 1  # the header
    rss_after = _workers_peak_rss(meter.server)
    del tail
    return (
        f"History CSV export: {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s "
        f"(server CPU {cpu / 1000:.1f} s); workers' peak memory {rss_before} → {rss_after} MiB."
    )


def _workers_peak_rss(server) -> int:
    peak = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (_stat(int(entry.name)) or [0, 0])[1] == str(server.pid):
            status = (entry / "status").read_text()
            peak = max(peak, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) // 1024)
    return peak


# The pages -------------------------------------------------------------------------------------


def sample_world() -> dict:
    """Objects the pages open: one of Contoso's subscriptions that takes a designated contact
    and has a second eligible one (a reseller), and its customer. The newest first: the bulk
    loaded customers, not the hand-made demo ones."""
    from customers.eligibility import contact_options
    from customers.models import Subscription
    from demo import world

    subscriptions = Subscription.objects.filter(
        provider__partner_id=world.PROVIDER["partner_id"]
    ).select_related("customer", "provider", "support_contact")
    for subscription in subscriptions.order_by("-pk")[:2000]:
        if not subscription.supports_designated_contact:
            continue
        eligible = contact_options(subscription).eligible
        if len(eligible) >= 2:
            # The first Submit must change something: start with a contact not designated now.
            others = [p.pk for p in eligible if p != subscription.support_contact]
            return {
                "customer": subscription.customer,
                "subscription": subscription,
                "contacts": [others[0], subscription.support_contact_id],
            }
    raise SystemExit("No subscription with two eligible contacts: the world is too small.")


def pages(sample: dict) -> list[Page]:
    from customers.forms import CustomerSearchForm
    from customers.models import Customer, SupportContactChange
    from partnercenter.keyset import KeysetPaginator
    from partnercenter.models import User
    from partnercenter.policy import Action

    customer, subscription = sample["customer"], sample["subscription"]
    fragment = customer.name.split()[0][:5].lower()
    subscription_url = f"/customers/{customer.pk}/subscriptions/{subscription.pk}/"
    staff = User.objects.get(username="globaladmin")

    def deep(rows, ordering, position: int) -> str:
        """The Next link of the page that ends at row `position` (halfway down a smaller
        world): what a user who paged that far follows. Found once with OFFSET."""
        ordered = rows.order_by(*ordering)
        found = list(ordered[position - 1 : position])
        if not found:
            position = max(ordered.count() // 2, 1)
            found = list(ordered[position - 1 : position])
        paginator = KeysetPaginator(rows, ordering, 1, world=staff.partner_id)
        return urlencode({"after": paginator.token_for(found[0], position)})

    customers = Customer.objects.restrict(staff, Action.VIEW)
    changes = SupportContactChange.objects.restrict(staff, Action.VIEW)
    deep_customers = deep(customers, CustomerSearchForm.SORTS["name"], 5_000)
    deep_history = deep(changes, SupportContactChange._meta.ordering, 25_000)
    return [
        Page("floor (session + user)", "/bench/floor/"),
        Page("dashboard", "/dashboard/"),
        Page("customers list", "/customers/", admin_match="admin changelist"),
        Page(
            "customers search (htmx)",
            "/customers/?" + urlencode({"q": fragment}),
            htmx_target="customer-results",
            admin_match="admin search",
        ),
        Page("customers list, deep page", f"/customers/?{deep_customers}"),  # from the 5,001st
        Page(
            "customers of one contact, most subscriptions first",
            "/customers/?"
            + urlencode({"contact": sample["contacts"][0], "sort": "-subscriptions"}),
        ),
        Page("customer page", f"/customers/{customer.pk}/"),
        Page("subscription page", subscription_url, admin_match="admin change page"),
        Page("customer's Support page", "/admin/support/", user="adatumadmin"),
        Page("History page", "/history/"),
        Page("History, one contact", f"/history/?contact={sample['contacts'][1]}"),
        Page("History, deep page", f"/history/?{deep_history}"),  # from the 25,001st
        Page("admin changelist", "/backoffice/customers/customer/", user="benchadmin"),
        Page(
            "admin search",
            "/backoffice/customers/customer/?" + urlencode({"q": fragment}),
            user="benchadmin",
        ),
        Page(
            "admin change page",
            f"/backoffice/customers/subscription/{subscription.pk}/change/",
            user="benchadmin",
        ),
    ]


def signed_in_clients(usernames) -> dict:
    from django.test import Client

    from partnercenter.models import User

    User.objects.filter(username="benchadmin").exists() or User.objects.create_superuser(
        "benchadmin", "benchadmin@bench.example", "bench-only-password", two_step_exempt=True
    )
    clients = {}
    for username in usernames:
        client = Client()
        client.force_login(User.objects.get(username=username))
        clients[username] = client
    return clients


# The report ------------------------------------------------------------------------------------


def report(results: list[Result], floor: Result, extra: list[str], sizes: dict, args) -> str:
    by_name = {r.page.name: r for r in results}
    lines = [
        f"# partnercenter benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"World: {sizes}. gunicorn {args.workers} workers, wrk 1 thread × {args.connections} "
        f"connections, {args.seconds:g} s per page. Server CPU = gunicorn + the PostgreSQL "
        "backends of this database, from /proc.",
        "",
        "| page | queries | CPU ms / request | × floor (higher is better) | vs admin | "
        "requests/s | p50 ms | p99 ms | slowest SQL ms | KiB |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        versus = ""
        if r.page.admin_match in by_name and r.cpu_ms:
            versus = f"{by_name[r.page.admin_match].cpu_ms / r.cpu_ms:.1f}× faster"
        ratio = floor.cpu_ms / r.cpu_ms if r.cpu_ms else 0
        lines.append(
            f"| {r.page.name} | {r.queries} | {r.cpu_ms:.1f} | {ratio:.2f} | {versus} | "
            f"{r.rate:.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.slowest_ms:.1f} | "
            f"{r.bytes / 1024:.0f} |"
        )
    lines += ["", *extra, ""]
    notes = [f"- {r.page.name}: {n}" for r in results for n in r.notes]
    if notes:
        lines += ["Notes:", *notes, ""]
    lines.append("## The slowest statement of each page, with its plan")
    for r in results:
        if r.slowest_sql:
            lines += [
                "",
                f"### {r.page.name} ({r.slowest_ms:.1f} ms)",
                "",
                "```sql",
                r.slowest_sql[:2000],
                "```",
            ]
            if r.plan:
                lines += ["", "```", r.plan, "```"]
    return "\n".join(lines) + "\n"


def serve_as_in_production(database_url: str, **more: str) -> None:
    """The environment the benchmark's servers (and this process) run with: bench.settings,
    DEBUG off, persistent connections, plus `more`."""
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_SECRET_KEY": os.environ.get(
                "DJANGO_SECRET_KEY", "bench-only-secret-key-" + "x" * 40
            ),
            # Persistent connections and prepared statements, as README's production section:
            # a backend per worker, whose CPU we read.
            "DJANGO_CONN_MAX_AGE": "600",
            "DJANGO_DB_PREPARED_STATEMENTS": "1",
            "DJANGO_DEBUG": "0",
            **more,
        }
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny world, a second per page")
    parser.add_argument("--rebuild", action="store_true", help="build the world even if present")
    parser.add_argument("--seconds", type=float, default=10, help="wrk seconds per page")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (0: a free one)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the report")
    for what in FULL:
        parser.add_argument(f"--{what}", type=int, default=None, help=f"{what} in the world")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.submits = 1, 10
    sizes = dict(SMOKE if args.smoke else FULL)
    sizes.update({what: getattr(args, what) for what in FULL if getattr(args, what) is not None})
    sizes = {what: count for what, count in sizes.items() if count}
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `make bench` installs it (Debian package wrk).")

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    serve_as_in_production(url)
    os.environ.pop("DJANGO_CACHE_URL", None)
    prepare_world(url, sizes, args.rebuild)
    _manage("collectstatic", "--no-input", "-v", "0")  # hashed names, served by WhiteNoise

    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    sample = sample_world()
    the_pages = pages(sample)
    clients = signed_in_clients({p.user for p in the_pages})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_backend = cursor.fetchone()[0]

    results = [Result(p) for p in the_pages]
    for result in results:
        client = clients[result.page.user]
        profile_request(client, "get", result.page, result)
        if result.seconds < SLOW_SECONDS:  # again, with caches warm as under load
            result.notes.clear()
            profile_request(client, "get", result.page, result)
    subscription = sample["subscription"]
    contacts = sample["contacts"]
    submit_url = (
        f"/customers/{subscription.customer_id}/subscriptions/{subscription.pk}/support-contact/"
    )
    submit_profile = Result(Page("Submit (htmx)", submit_url, htmx_target="contact-section"))
    data = {"contact": contacts[0], "version": subscription.version}
    profile_request(clients["globaladmin"], "post", submit_profile.page, submit_profile, data)
    subscription.refresh_from_db()
    # The loop goes on from there: first back to the contact designated before.
    target = {"url": submit_url, "version": subscription.version, "contacts": contacts[::-1]}
    cookies = {u: f"sessionid={c.cookies['sessionid'].value}" for u, c in clients.items()}
    staff = clients["globaladmin"]
    staff.get("/customers/")
    csrf = staff.cookies["csrftoken"].value
    cookies["globaladmin"] += f"; csrftoken={csrf}"
    bulk_section = measure_bulk(staff, BULK_SMOKE if args.smoke else BULK_FULL)
    print(bulk_section)
    connection.close()
    # In a scratch database of its own, named after the world's, before gunicorn starts.
    world = urlsplit(url)
    webhooks_section = measure_webhooks(
        WEBHOOKS_SMOKE if args.smoke else WEBHOOKS_FULL,
        world._replace(path=f"{world.path}_webhooks").geturl(),
    )

    args.port = args.port or _free_port()
    server = start_server(args.port, args.workers)
    try:
        meter = CpuMeter(server, urlsplit(url).path.lstrip("/"), {os.getpid(), own_backend})
        for i, page in enumerate(the_pages):
            profiled = results[i]
            if profiled.seconds < SLOW_SECONDS:
                measured = measure_page(
                    page, args.port, cookies[page.user], args.seconds, args.connections, meter
                )
            else:
                headers = {"Cookie": cookies[page.user], **page.headers}
                count = 3 if profiled.seconds < 10 else 1
                measured = measure_one_by_one(args.port, page, headers, [None] * count, meter)
                measured.notes.append(
                    f"{profiled.seconds:.1f} s in-process: {count} request(s), not wrk"
                )
            measured.queries, measured.bytes = profiled.queries, profiled.bytes
            measured.slowest_ms, measured.slowest_sql = profiled.slowest_ms, profiled.slowest_sql
            measured.plan = profiled.plan
            measured.notes += profiled.notes
            results[i] = measured
            print(f"{page.name}: {measured.cpu_ms:.1f} ms CPU/request, {measured.rate:.0f}/s")
        submit = measure_submit(
            args.port, cookies["globaladmin"], csrf, target, args.submits, meter
        )
        submit.queries, submit.bytes = submit_profile.queries, submit_profile.bytes
        submit.slowest_ms, submit.slowest_sql = (
            submit_profile.slowest_ms,
            submit_profile.slowest_sql,
        )
        submit.plan, submit.notes = submit_profile.plan, submit_profile.notes + submit.notes
        results.insert(8, submit)
        subscription.refresh_from_db()
        if subscription.version != target["version"] + submit.requests:
            submit.notes.append(
                f"{submit.requests} Submits sent, but the version went from {target['version']} "
                f"to {subscription.version}: some were refused"
            )
        print(f"Submit: {submit.cpu_ms:.1f} ms CPU/request")
        extra = [
            measure_export(args.port, cookies["globaladmin"], meter),
            bulk_section,
            webhooks_section,
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)

    text = report(results, results[0], extra, sizes, args)
    print(text)
    out = (
        args.out
        or RESULTS / f"{datetime.now(UTC):%Y-%m-%d-%H%M}{'-smoke' if args.smoke else ''}.md"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"Written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
