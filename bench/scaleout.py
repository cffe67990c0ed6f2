"""`make bench-scaleout`: two gunicorn servers behind HAProxy serve one world together.

Builds (or reuses) a small world in a PostgreSQL database of its own (SCALEOUT_DATABASE_URL),
starts two gunicorn servers on two loopback ports sharing that database and one Redis database
(SCALEOUT_CACHE_URL, given to both as DJANGO_CACHE_URL), and HAProxy balancing round-robin
between them. Then it proves, one PASS or FAIL line each, and exits non-zero on any failure:

  a. a session signed in on one server goes on on the other and through the balancer;
  b. sign-in throttling counts the failures of both servers together, and behind the balancer
     sees the client's address (X-Forwarded-For, trusted from the proxy only);
  c. concurrent Submits spread over both servers keep every history row and the eligibility
     invariant, and a stale one is refused with a message, never lost or answered 500;
  d. throughput: wrk on a page through one server, and through the balancer with two.

Every address is on loopback: the clients connect from 127.0.0.2 and up, HAProxy connects to
the servers from 127.0.0.1, the only trusted proxy. The report is printed and written to
bench/results/scaleout-<date>.md.

    .venv/bin/python -m bench.scaleout            # 50 Submits, 10 s of wrk per page
    .venv/bin/python -m bench.scaleout --smoke    # 1 worker a server, 12 Submits, 1 s of wrk
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.client import HTTPConnection
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.run import (
    CLOCK_TICKS,
    RESULTS,
    ROOT,
    Page,
    _free_port,
    _manage,
    cpu_ticks,
    measure_page,
    prepare_world,
    serve_as_in_production,
    server_pids,
    signed_in_clients,
    start_server,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/partnercenter_scaleout"
# A Redis database of its own: the script empties it before and after, and nothing else.
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/13"
SIZES = {"customers": 300, "resellers": 30, "history": 600}
PROXY_ADDRESS = "127.0.0.1"  # where HAProxy connects to the servers from: the trusted proxy
PASSWORD = "partnercenter-demo"  # demo.world.DEMO_PASSWORD, without importing Django yet
SIGN_IN = "/accounts/login/"
WRONG_PASSWORD = "Please enter a correct username and password"
LOCKED = "Too many failed sign-ins"
STALE = "after you opened this page, so nothing was changed"
CHANGED = "Designated support contact changed"


# An HTTP client bound to a loopback address, with a cookie jar --------------------------------


@dataclass
class Answer:
    status: int
    headers: Message  # case-insensitive: HAProxy sends header names in lower case
    text: str
    served_by: str  # "a" or "b" through the balancer (its X-Served-By header), else ""


class Browser:
    """One person's browser: its own source address and cookies, a new connection a request."""

    def __init__(self, source: str, cookies: dict | None = None):
        self.source = source
        self.cookies = dict(cookies or {})

    def request(self, port, method, path, form=None, headers=None) -> Answer:
        connection = HTTPConnection("127.0.0.1", port, timeout=120, source_address=(self.source, 0))
        sent = {"Accept-Language": "en", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.coded_value  # sent back as it came
                else:
                    self.cookies.pop(name, None)
        return Answer(
            response.status, response.headers, text, response.headers["X-Served-By"] or ""
        )

    def get(self, port, path, **kwargs) -> Answer:
        return self.request(port, "GET", path, **kwargs)

    def post(self, port, path, form, **kwargs) -> Answer:
        return self.request(port, "POST", path, form=form, **kwargs)

    def sign_in(self, port, username, password=PASSWORD, forwarded_for="", token="") -> Answer:
        """The sign-in page (unless its CSRF token is given), then the form posted."""
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        token = token or csrf(self.get(port, SIGN_IN, headers=headers))
        form = {"username": username, "password": password, "csrfmiddlewaretoken": token}
        return self.post(port, SIGN_IN, form, headers=headers)


def csrf(answer: Answer) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', answer.text)
    if not match:
        raise Failed(f"no CSRF token on the page (HTTP {answer.status})")
    return match.group(1)


class Failed(Exception):
    """An answer the proof did not expect."""


# The proof -------------------------------------------------------------------------------------


@dataclass
class Proof:
    lines: list[str] = field(default_factory=list)
    failures: int = 0

    def check(self, ok: bool, text: str) -> bool:
        line = f"{'PASS' if ok else 'FAIL'} {text}"
        print(line, flush=True)
        self.lines.append(line)
        self.failures += not ok
        return ok

    def section(self, title: str) -> None:
        print(f"\n{title}", flush=True)
        self.lines += ["", f"### {title}", ""]


# The processes ---------------------------------------------------------------------------------


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if not found:
        raise SystemExit("HAProxy is missing: `make bench-scaleout` installs it (Debian's).")
    return found


HAPROXY_CONFIG = """\
global
    maxconn 1024
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    # The client's address, appended to X-Forwarded-For: DJANGO_TRUSTED_PROXIES reads it.
    option forwardfor
frontend site
    bind 127.0.0.1:{port}
    default_backend servers
backend servers
    balance roundrobin
    http-response set-header X-Served-By %[srv_name]
    server a 127.0.0.1:{a} source {proxy}
    server b 127.0.0.1:{b} source {proxy}
"""


def start_haproxy(folder: Path, port: int, a: int, b: int) -> subprocess.Popen:
    config = folder / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(port=port, a=a, b=b, proxy=PROXY_ADDRESS))
    binary = haproxy_binary()
    subprocess.run([binary, "-c", "-q", "-f", str(config)], check=True)
    proxy = subprocess.Popen([binary, "-db", "-f", str(config)])  # -db: in the foreground
    for _ in range(50):  # up to 10 s
        if proxy.poll() is not None:
            raise SystemExit(f"HAProxy stopped at once (exit {proxy.returncode})")
        try:
            probe = HTTPConnection("127.0.0.1", port, timeout=2)
            probe.connect()
            probe.close()
            return proxy
        except OSError:
            time.sleep(0.2)
    stop(proxy)
    raise SystemExit("HAProxy did not start")


def stop(*processes: subprocess.Popen) -> None:
    """Ask them all to stop at once, then wait for each (and kill one that does not)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def wait_until_served(port: int, answers: set[str], tries: int = 20) -> None:
    """Until the balancer has passed a request to each of the servers."""
    seen = set()
    for _ in range(tries):
        seen.add(Browser("127.0.0.2").get(port, SIGN_IN).served_by)
        if answers <= seen:
            return
    raise SystemExit(f"the balancer answered only from {sorted(seen)}")


class ServersMeter:
    """CPU of several gunicorn servers and the PostgreSQL backends of the database (as
    bench.run.CpuMeter for one), and separately of the balancer."""

    def __init__(self, servers, database, exclude, proxy=None):
        self.servers, self.database, self.exclude, self.proxy = servers, database, exclude, proxy
        self.proxy_ms = 0.0

    def _pids(self) -> list[int]:
        pids = set()
        for server in self.servers:
            pids.update(server_pids(server, self.database, self.exclude))
        return sorted(pids)

    def start(self):
        self.before = cpu_ticks(self._pids())
        self.proxy_before = cpu_ticks([self.proxy.pid]) if self.proxy else {}

    def stop(self) -> float:
        after = cpu_ticks(self._pids())
        if self.proxy:
            ticks = cpu_ticks([self.proxy.pid])
            spent = sum(t - self.proxy_before.get(pid, 0) for pid, t in ticks.items())
            self.proxy_ms = spent * 1000 / CLOCK_TICKS
        spent = sum(t - self.before.get(pid, 0) for pid, t in after.items())
        return spent * 1000 / CLOCK_TICKS


# a. Sessions -----------------------------------------------------------------------------------


def prove_sessions(proof: Proof, ports: dict) -> Browser:
    """Sign in on a, go on on b and through the balancer; sign out on b, and a knows."""
    proof.section("a. One session, any server")
    staff = Browser("127.0.0.2")
    signed_in = staff.sign_in(ports["a"], "globaladmin")
    proof.check(
        signed_in.status == 302 and "sessionid" in staff.cookies,
        f"globaladmin signs in on server a (HTTP {signed_in.status}, session cookie set)",
    )
    on_b = staff.get(ports["b"], "/customers/")
    proof.check(
        on_b.status == 200 and "/accounts/logout/" in on_b.text,
        f"the same session cookie opens the customers page on server b (HTTP {on_b.status})",
    )
    through = [staff.get(ports["balancer"], "/customers/") for _ in range(4)]
    served = Counter(answer.served_by for answer in through)
    proof.check(
        all(answer.status == 200 for answer in through) and set(served) == {"a", "b"},
        f"and through the balancer: 4 requests, all 200, served by {dict(sorted(served.items()))}",
    )
    leaving = Browser("127.0.0.2")
    leaving.sign_in(ports["balancer"], "adminagent")
    before = leaving.get(ports["a"], "/customers/").status
    page = leaving.get(ports["b"], "/customers/")
    leaving_cookies = dict(leaving.cookies)
    signed_out = leaving.post(ports["b"], "/accounts/logout/", {"csrfmiddlewaretoken": csrf(page)})
    after = Browser("127.0.0.2", leaving_cookies).get(ports["a"], "/customers/")
    proof.check(
        before == 200
        and signed_out.status == 302
        and after.status == 302
        and SIGN_IN in after.headers.get("Location", ""),
        "adminagent signs out on server b (with a CSRF token from b's page); the old session "
        f"cookie then gets server a's sign-in page (HTTP {before} → {after.status})",
    )
    return staff


# b. Sign-in throttling -------------------------------------------------------------------------


def prove_throttling(proof: Proof, ports: dict, limit: int) -> None:
    from axes.models import AccessAttempt
    from django.db import connection

    proof.section("b. Sign-in throttling across servers, and the client's address")
    # A username: failures alternated between the two servers add up.
    guesser = Browser("127.0.0.3")
    order = ["a" if i % 2 == 0 else "b" for i in range(limit)]
    answers = [guesser.sign_in(ports[name], "salesagent", "wrong-password") for name in order]
    refused_before = all(a.status == 200 and WRONG_PASSWORD in a.text for a in answers[:-1])
    locked = answers[-1].status == 429 and LOCKED in answers[-1].text
    last_other = "b" if order[-1] == "a" else "a"
    right = Browser("127.0.0.4").sign_in(ports[last_other], "salesagent")
    proof.check(
        refused_before and locked and right.status == 429,
        f"{limit} wrong passwords for salesagent alternated {', '.join(order)}: the first "
        f"{limit - 1} get the usual message, failure number {limit} locks the username (HTTP "
        f"{answers[-1].status}); the right password from another address on server "
        f"{last_other} is refused too (HTTP {right.status}). Counted by one server, neither "
        f"would have seen {limit}.",
    )

    # An address: through the balancer, the client's own, whatever it forges.
    through = Browser("127.0.0.5")
    forged = "203.0.113.77"
    token = csrf(through.get(ports["balancer"], SIGN_IN))  # one page, then the form again
    answers = [
        through.sign_in(
            ports["balancer"], f"nobody-{i}", "guess", forwarded_for=forged, token=token
        )
        for i in range(limit)
    ]
    served = Counter(a.served_by for a in answers)
    locked = answers[-1].status == 429
    connection.close()  # the attempts were written by the servers: read them afresh
    addresses = set(
        AccessAttempt.objects.filter(username__startswith="nobody-").values_list(
            "ip_address", flat=True
        )
    )
    same_address = through.sign_in(ports["balancer"], "usermgmtadmin", forwarded_for=forged)
    neighbour = Browser("127.0.0.6").sign_in(ports["balancer"], "usermgmtadmin")
    proof.check(
        locked and addresses == {"127.0.0.5"},
        f"{limit} failed sign-ins from 127.0.0.5 through the balancer (served by "
        f"{dict(sorted(served.items()))}, each forging X-Forwarded-For: {forged}) are recorded "
        f"for {sorted(addresses)} and lock that address (HTTP {answers[-1].status})",
    )
    proof.check(
        same_address.status == 429 and neighbour.status == 302,
        f"then usermgmtadmin's right password is refused from 127.0.0.5 (HTTP "
        f"{same_address.status}) and accepted from 127.0.0.6 through the same balancer (HTTP "
        f"{neighbour.status}): the proxy's own address {PROXY_ADDRESS} was never the one locked",
    )
    direct = Browser("127.0.0.7").sign_in(
        ports["a"], "nobody-direct", "guess", forwarded_for="203.0.113.78"
    )
    connection.close()
    recorded = set(
        AccessAttempt.objects.filter(username="nobody-direct").values_list("ip_address", flat=True)
    )
    proof.check(
        direct.status == 200 and recorded == {"127.0.0.7"},
        "a client reaching server a itself with a forged X-Forwarded-For: 203.0.113.78 is "
        f"recorded as {sorted(recorded)}: the header is trusted only from {PROXY_ADDRESS}",
    )


# c. Concurrent Submits -------------------------------------------------------------------------


def contested_subscriptions(count: int) -> list:
    """Contoso's subscriptions with the most eligible contacts (at least two), `count` of them."""
    from customers.eligibility import contact_options
    from customers.models import Subscription
    from demo import world

    candidates = []
    subscriptions = Subscription.objects.filter(
        provider__partner_id=world.PROVIDER["partner_id"]
    ).select_related("customer", "provider", "support_contact")
    for subscription in subscriptions.order_by("pk")[:3000]:
        if subscription.supports_designated_contact:
            eligible = contact_options(subscription).eligible
            if len(eligible) >= 2:
                candidates.append((-len(eligible), subscription.pk, subscription))
            if len(candidates) >= 4 * count:
                break
    candidates.sort(key=lambda c: c[:2])
    if len(candidates) < count:
        raise SystemExit(f"Only {len(candidates)} subscriptions with two eligible contacts.")
    return [c[2] for c in candidates[:count]]


@dataclass
class Racer:
    """One person on a subscription page: load it, pick another contact, Submit; when refused
    as stale, load it again and retry (as the message invites), a bounded number of times."""

    index: int
    browser: Browser
    subscription: object
    htmx: bool
    landed: int = 0
    stale: int = 0
    errors: list[str] = field(default_factory=list)
    served: Counter = field(default_factory=Counter)
    split: int = 0  # Submits posted to another server than the one that rendered their form

    def page(self, port) -> tuple[Answer, str, int, list[str]]:
        s = self.subscription
        answer = self.browser.get(port, f"/customers/{s.customer_id}/subscriptions/{s.pk}/")
        self.served[answer.served_by] += 1
        version = re.search(r'name="version" value="(\d+)"', answer.text)
        select = re.search(r'<select name="contact".*?</select>', answer.text, re.S)
        if answer.status != 200 or not version or not select:
            raise Failed(f"subscription page answered {answer.status} without the form")
        options = re.findall(r'<option value="(\d+)"( selected)?', select.group(0))
        current = next((value for value, selected in options if selected), "")
        others = [value for value, _ in options if value and value != current]
        return answer, csrf(answer), int(version.group(1)), others

    def submit(self, port, loaded: Answer, token, version, others) -> str:
        s = self.subscription
        url = f"/customers/{s.customer_id}/subscriptions/{s.pk}/support-contact/"
        form = {
            "csrfmiddlewaretoken": token,
            "version": version,
            "contact": others[self.index % len(others)],
        }
        headers = {"HX-Request": "true", "HX-Target": "contact-section"} if self.htmx else {}
        answer = self.browser.post(port, url, form, headers=headers)
        self.served[answer.served_by] += 1
        self.split += answer.served_by != loaded.served_by
        if self.htmx:
            if answer.status == 200 and CHANGED in answer.text:
                return "landed"
            if answer.status == 200 and STALE in answer.text:
                return "stale"
        else:
            location = answer.headers.get("Location", "")
            if answer.status == 302 and re.search(r"/changes/\d+/$", location):
                return "landed"
            if answer.status == 302 and location.endswith(f"/subscriptions/{s.pk}/"):
                shown = self.browser.get(port, location)  # the message rides in its cookie
                if shown.status == 200 and STALE in shown.text:
                    return "stale"
        return f"HTTP {answer.status} {answer.headers.get('Location', '')}: {answer.text[:200]!r}"

    def run(self, port, start: threading.Barrier, attempts: int) -> None:
        try:
            loaded = self.page(port)
            start.wait(timeout=120)
            for _ in range(attempts):
                outcome = self.submit(port, *loaded)
                if outcome == "landed":
                    self.landed += 1
                    return
                if outcome != "stale":
                    self.errors.append(outcome)
                    return
                self.stale += 1
                loaded = self.page(port)
            self.errors.append(f"still stale after {attempts} attempts")
        except (Failed, OSError, threading.BrokenBarrierError) as error:
            self.errors.append(f"{type(error).__name__}: {error}")


def prove_submits(proof: Proof, ports: dict, sessions: list[dict], args) -> None:
    from django.db import connection

    from customers.models import Subscription, SupportContactChange
    from tests.fuzzing import eligibility_violations

    proof.section("c. Concurrent Submits over both servers")
    subscriptions = contested_subscriptions(args.subscriptions)
    before = {s.pk: (s.version, s.support_contact_id) for s in subscriptions}
    last_row = SupportContactChange.objects.order_by("-pk").values_list("pk", flat=True).first()
    last_row = last_row or 0
    connection.close()
    racers = [
        Racer(
            index=i,
            browser=Browser(f"127.0.1.{i % 250 + 1}", sessions[i % len(sessions)]),
            subscription=subscriptions[i % len(subscriptions)],
            htmx=i % 2 == 0,
        )
        for i in range(args.submits)
    ]
    per_subscription = -(-args.submits // len(subscriptions))
    start = threading.Barrier(len(racers), timeout=120)
    threads = [
        threading.Thread(target=r.run, args=(ports["balancer"], start, per_subscription + 2))
        for r in racers
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    deadline = started + 600
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    seconds = time.monotonic() - started
    hung = sum(thread.is_alive() for thread in threads)

    landed = sum(r.landed for r in racers)
    stale = sum(r.stale for r in racers)
    errors = [f"racer {r.index}: {e}" for r in racers for e in r.errors]
    served = sum((r.served for r in racers), Counter())
    split = sum(r.split for r in racers)
    htmx = sum(r.landed for r in racers if r.htmx)
    proof.check(
        not errors and not hung and landed == args.submits,
        f"{args.submits} Submits posted at once through the balancer on {len(subscriptions)} "
        f"subscriptions ({htmx} htmx, {landed - htmx} plain POST), as {len(sessions)} staff "
        f"users: all {landed} landed after {stale} refusals as stale (each then reloaded and "
        f"resent), {len(errors)} errors, in {seconds:.1f} s"
        + (f"; first errors: {errors[:3]}" if errors else "")
        + (f"; {hung} still hanging" if hung else ""),
    )
    proof.check(
        served["a"] > 0 and served["b"] > 0,
        f"both servers served them: {dict(sorted(served.items()))} requests (pages and "
        f"Submits); {split} Submits went to another server than the one that rendered their form",
    )

    connection.close()
    rows = list(
        SupportContactChange.objects.filter(pk__gt=last_row).order_by("pk")  # as written
    )
    now = {s.pk: s for s in Subscription.objects.filter(pk__in=before)}
    chains_ok, versions_ok = True, True
    for pk, (version, contact) in before.items():
        mine = [row for row in rows if row.subscription_id == pk]
        expected = sum(r.landed for r in racers if r.subscription.pk == pk)
        versions_ok &= now[pk].version == version + expected == version + len(mine)
        for row in mine:
            chains_ok &= row.from_contact_id == contact and row.to_contact_id != contact
            contact = row.to_contact_id
        chains_ok &= contact == now[pk].support_contact_id
    proof.check(
        len(rows) == landed and versions_ok,
        f"history rows added: {len(rows)} for {landed} changes that landed; every "
        "subscription's version went up by exactly its changes",
    )
    proof.check(
        chains_ok,
        "each subscription's new history rows form one chain, from the contact designated "
        "before to the one designated now: no change overwritten or lost",
    )
    violations = eligibility_violations()
    proof.check(
        not violations,
        "the eligibility invariant holds: every designated support contact is eligible "
        f"(tests/fuzzing.py eligibility_violations: {len(violations)} violations)"
        + (f": {violations[:3]}" if violations else ""),
    )


def prove_same_pages(proof: Proof, ports: dict, staff: Browser, cache_url: str) -> None:
    """After the Submits, the dashboard (figures over every subscription, whatever keeps them
    exact) reads the same on both servers: nothing one server keeps for itself."""
    import redis

    shown = {}
    for name in ("a", "b"):
        answer = staff.get(ports[name], "/dashboard/")
        main = re.search(r"<main.*?</main>", answer.text, re.S)
        content = main.group(0) if answer.status == 200 and main else ""
        shown[name] = re.sub(r'<input[^>]*name="csrfmiddlewaretoken"[^>]*>', "", content)
    keys = redis.Redis.from_url(cache_url).dbsize()
    figures = re.findall(r"\d[\d,]*", re.sub(r"<[^>]*>", " ", shown["a"]))
    proof.check(
        shown["a"] and shown["a"] == shown["b"],
        "after the Submits the dashboard reads the same on server a and on server b "
        f"({len(figures)} figures; the shared cache {cache_url} holds {keys} keys)",
    )


# d. Throughput ---------------------------------------------------------------------------------


def measure_throughput(proof, ports, servers, proxy, cookie, database, args) -> list[str]:
    from django.db import connection

    from customers.models import Subscription

    sample = Subscription.objects.order_by("pk").first()
    connection.close()  # no backend of ours in the CPU measured
    pages = [
        Page("floor (session + user)", "/bench/floor/"),
        Page("customer page", f"/customers/{sample.customer_id}/"),
    ][: 1 if args.smoke else None]
    exclude = {os.getpid()}
    one = ServersMeter([servers["a"]], database, exclude)
    two = ServersMeter([servers["a"], servers["b"]], database, exclude, proxy=proxy)
    lines = [
        f"wrk 1 thread × {args.connections} connections, {args.seconds:g} s per run; each "
        f"server gunicorn with {args.workers} worker(s); server CPU = gunicorn + the PostgreSQL "
        "backends of this database, from /proc; HAProxy's own CPU apart.",
        "",
        "| page | served by | requests/s | p50 ms | p99 ms | server CPU ms / request | "
        "HAProxy CPU ms / request | non-2xx/3xx |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    proof.section("d. Throughput: one server, and two behind the balancer")
    load_before = os.getloadavg()[0]
    for page in pages:
        for label, port, meter in (
            ("one server (direct)", ports["a"], one),
            ("two servers behind HAProxy", ports["balancer"], two),
        ):
            result = measure_page(page, port, cookie, args.seconds, args.connections, meter)
            proxy_ms = meter.proxy_ms / max(result.requests, 1) if meter.proxy else None
            line = (
                f"| {page.name} | {label} | {result.rate:.0f} | {result.p50_ms:.1f} | "
                f"{result.p99_ms:.1f} | {result.cpu_ms:.1f} | "
                f"{'' if proxy_ms is None else f'{proxy_ms:.2f}'} | "
                f"{'; '.join(result.notes) or 0} |"
            )
            print(line, flush=True)
            lines.append(line)
            proof.check(
                result.requests > 0 and not result.notes,
                f"{page.name}, {label}: {result.requests} requests, every answer 2xx/3xx",
            )
    load_after = os.getloadavg()[0]
    lines += [
        "",
        f"The machine has {os.cpu_count()} shared cores (load average {load_before:.1f} before "
        f"these runs, {load_after:.1f} after: other work runs beside them). Here the two "
        "servers and the one share the same cores: two can serve more only with CPU that one "
        "server's workers leave idle while they wait (on PostgreSQL, on the network), or by "
        "taking a bigger share of the cores from the other work (four workers instead of two). "
        "Requests/s move with that other load; server CPU per request is the figure to compare, "
        "and it also grows when more processes than cores take turns. On machines of their own "
        "each server brings its own cores, and the rate grows with the servers until the "
        "database is the limit.",
    ]
    return lines


# Setup -----------------------------------------------------------------------------------------


def collect_static_when_stale() -> None:
    """collectstatic (hashed names, for WhiteNoise), unless the manifest is newer than every
    static file: bench.run collects into the same folder, maybe at the same time."""
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    sources = [p for p in (ROOT / "static").rglob("*") if p.is_file()]
    if manifest.exists() and all(p.stat().st_mtime < manifest.stat().st_mtime for p in sources):
        return
    _manage("collectstatic", "--no-input", "-v", "0")


def reset_state(cache_url: str) -> None:
    """Forget sign-in attempts (this database only) and empty this Redis database only."""
    import redis
    from axes.models import AccessAttempt, AccessFailureLog
    from django.db import connection

    AccessAttempt.objects.all().delete()
    AccessFailureLog.objects.all().delete()
    connection.close()
    redis.Redis.from_url(cache_url).flushdb()


def check_services(url: str, cache_url: str) -> None:
    import psycopg
    import redis

    for tool in ("wrk",):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: `make bench-scaleout` installs it.")
    haproxy_binary()
    try:
        redis.Redis.from_url(cache_url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        raise SystemExit(f"Redis at {cache_url} does not answer: {error}") from None
    maintenance = urlsplit(url)._replace(path="/postgres").geturl()
    try:
        psycopg.connect(maintenance, connect_timeout=3).close()
    except psycopg.Error as error:
        raise SystemExit(f"PostgreSQL at {maintenance} does not answer: {error}") from None


def start_servers(ports: dict, workers: int, running: list) -> dict:
    """Both gunicorn servers at once (bench.run.start_server waits until one answers); each
    one that started joins `running`, stopped at the end even when the other did not start."""
    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        starting = {name: pool.submit(start_server, port, workers) for name, port in ports.items()}
    servers, failure = {}, None
    for name, future in starting.items():
        try:
            servers[name] = future.result()
            running.append(servers[name])
        except BaseException as error:  # SystemExit included: it is raised again below
            failure = error
    if failure:
        raise failure
    return servers


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="1 worker a server, 12 Submits, 1 s of wrk"
    )
    parser.add_argument("--rebuild", action="store_true", help="build the world even if present")
    parser.add_argument("--seconds", type=float, default=10, help="wrk seconds per run")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--submits", type=int, default=50, help="concurrent Submits")
    parser.add_argument("--subscriptions", type=int, default=10, help="the Submits' targets")
    parser.add_argument("--out", type=Path, default=None, help="where to write the report")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.submits, args.subscriptions, args.workers = 1, 12, 4, 1

    url = os.environ.get("SCALEOUT_DATABASE_URL", DEFAULT_DATABASE_URL)
    cache_url = os.environ.get("SCALEOUT_CACHE_URL", DEFAULT_CACHE_URL)
    check_services(url, cache_url)
    serve_as_in_production(
        url,
        # What every server must share besides the database and the secret key.
        DJANGO_CACHE_URL=cache_url,
        DJANGO_TRUSTED_PROXIES=PROXY_ADDRESS,
        DJANGO_PROXY_COUNT="1",
        # Each failed sign-in and lockout is logged as a warning: expected here, by the dozen.
        DJANGO_LOG_LEVEL="ERROR",
        DJANGO_AXES_LOG_LEVEL="ERROR",
    )
    if args.smoke:  # the same proof, with fewer password hashes to pay for
        os.environ["DJANGO_SIGNIN_FAILURE_LIMIT"] = "3"
    prepare_world(url, SIZES, args.rebuild)
    collect_static_when_stale()

    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.conf import settings

    proof = Proof()
    database = urlsplit(url).path.lstrip("/")
    reset_state(cache_url)
    throughput = []
    with ExitStack() as cleanup, tempfile.TemporaryDirectory(prefix="scaleout-") as folder:
        cleanup.callback(reset_state, cache_url)
        running = []  # every process started, all stopped at the end whatever happens
        cleanup.callback(lambda: stop(*running))
        ports = {name: _free_port() for name in ("a", "b")}
        servers = start_servers(ports, args.workers, running)
        ports["balancer"] = _free_port()
        proxy = start_haproxy(Path(folder), ports["balancer"], ports["a"], ports["b"])
        running.append(proxy)
        wait_until_served(ports["balancer"], {"a", "b"})
        print(f"Servers a :{ports['a']} and b :{ports['b']}, HAProxy :{ports['balancer']}.")

        try:
            staff = prove_sessions(proof, ports)
            prove_throttling(proof, ports, settings.AXES_FAILURE_LIMIT)
            # Two more staff sessions, made in this process: any server takes them.
            others = signed_in_clients(["helpdeskagent", "adminagent"])
            sessions = [
                staff.cookies,
                *({"sessionid": c.cookies["sessionid"].value} for c in others.values()),
            ]
            prove_submits(proof, ports, sessions, args)
            prove_same_pages(proof, ports, staff, cache_url)
            cookie = f"sessionid={staff.cookies['sessionid']}"
            throughput = measure_throughput(proof, ports, servers, proxy, cookie, database, args)
        except (Failed, OSError, KeyError) as error:
            proof.check(False, f"the proof stopped: {type(error).__name__}: {error}")

    text = report(proof, throughput, args)
    print("\n" + text)
    out = args.out or RESULTS / f"scaleout-{datetime.now(UTC):%Y-%m-%d-%H%M}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"Written to {out}")
    return 1 if proof.failures else 0


def report(proof: Proof, throughput: list[str], args) -> str:
    verdict = "every check passed" if not proof.failures else f"{proof.failures} checks FAILED"
    return "\n".join(
        [
            f"# partnercenter: two servers behind a load balancer, "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"World: {SIZES} (seed_demo). Two gunicorn servers ({args.workers} workers each) on "
            "one PostgreSQL database and one Redis database (DJANGO_CACHE_URL), HAProxy "
            f"round-robin in front, all on loopback; {verdict}.",
            *proof.lines,
            "",
            "### Throughput",
            "",
            *throughput,
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
