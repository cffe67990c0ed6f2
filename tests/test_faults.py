"""What a Submit does when the database or a server process fails in the middle of it.

Each test serves the demo world with gunicorn as in production (DEBUG off, persistent
connections checked before use), from a copy of its own in a private PostgreSQL 15 instance
(tests/private_postgres.py), and breaks something while adminagent Submits changes of
designated support contact over HTTP on loopback:

1. the database restarts during a steady load of Submits: every Submit either lands with its
   history row or is refused with the 503 page and changes nothing, and Submits land again
   within 5 s of the database's return;
2. the worker serving a Submit is killed (SIGKILL) after the subscription was updated and its
   history row written, before the transaction commits: nothing of it stays, and the master
   starts a new worker, which serves the next Submit;
3. the database turns read-only, or its disk fills up: the 503 page, no traceback, nothing
   changed; Submits land again once it is writable;
4. a Submit waits longer than the statement timeout: the 503 page, and the subscription's row
   lock is released at once;
5. gunicorn is told to stop (SIGTERM) during a Submit: the Submit finishes, then gunicorn exits.

A Submit is held at a known point by locking the events table from another connection: the
service has then locked and updated the subscription and inserted the history row, and waits to
insert the event, all in one transaction.

Every answer is classified: succeeded (302 to the change's review, or the 503 page saying the
change was saved), refused (the 503 page saying nothing was changed), stale (302 back to the
subscription's page: another Submit came first) or lost (anything else: no answer, a 500, a 503
without the page). Lost must be 0, and the database must agree with the answers: one history row
and one event per Submit that succeeded, nothing of the others. Each test prints its figures and
adds them to pytest's summary.

They bring their own PostgreSQL, so .ci/run runs them once: in its SQLite pass.
"""

import errno
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection

from bench.run import _free_port, _stat
from bench.scaleout import Answer, Browser, Failed, Racer
from tests.conftest import SUMMARY_PROPERTY
from tests.private_postgres import PrivatePostgres, missing, server_owned, started_with_world

pytestmark = [
    pytest.mark.skipif(
        connection.vendor == "postgresql",
        reason="ran in the SQLite pass of .ci/run: they bring their own PostgreSQL",
    ),
    pytest.mark.skipif(bool(missing()), reason=missing() or "a private PostgreSQL can start"),
]

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
STAFF = "adminagent"  # a provider admin of Contoso: may change designated support contacts
CLIENT = "127.0.0.1"
SAVED = "Your change was saved"
NOTHING_CHANGED = "Nothing was changed."
SUBSCRIPTIONS, HISTORY, EVENTS = (
    "customers_subscription",
    "customers_supportcontactchange",
    "events_event",
)
HELD_MS = "30000"  # the statement timeout where a test holds a Submit for seconds on purpose
WAIT = 15  # seconds: the bound of every wait for what takes a second or two
NO_ANSWER = (OSError, http.client.HTTPException)

SUCCEEDED, REFUSED, STALE, LOST = "succeeded", "refused with 503", "stale", "lost"


# The private instance, a copy of the demo world per test, and gunicorn --------------------------


@pytest.fixture(scope="module")
def postgres():
    instance = started_with_world()
    yield instance
    instance.remove()


@pytest.fixture
def world(postgres, request):
    """A copy of the demo world for this test alone: its database's name."""
    name = "faults_" + re.sub(r"\W", "_", request.node.name.removeprefix("test_"))[:40].lower()
    postgres.clone(name)
    yield name
    if not postgres.running():  # a test that stopped it failed before starting it again
        postgres.start()
    postgres.drop(name)


class Gunicorn:
    """`gunicorn partnercenter.wsgi` on a free loopback port, serving `database`."""

    def __init__(self, postgres: PrivatePostgres, database: str, workers: int, **environment):
        self.port = _free_port()
        self.log = postgres.folder / f"gunicorn-{self.port}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    str(GUNICORN),
                    "partnercenter.wsgi",
                    f"--bind=127.0.0.1:{self.port}",
                    f"--workers={workers}",
                    "--graceful-timeout=10",
                    "--access-logfile=-",
                    # Not the one control socket every gunicorn of this user shares by default.
                    "--no-control-socket",
                ],
                cwd=ROOT,
                env=postgres.django_environment(database, **environment),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.process.returncode}:\n{self.log_tail()}")
            with suppress(*NO_ANSWER):
                if Browser(CLIENT).get(self.port, "/healthz").status == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"gunicorn did not answer /healthz in 30 s:\n{self.log_tail()}")

    def workers(self) -> set[int]:
        """The master's children."""
        children = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = _stat(int(entry.name))
                if fields is not None and int(fields[1]) == self.process.pid:
                    children.add(int(entry.name))
        return children

    def log_tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WAIT)


@pytest.fixture
def serve(postgres, world):
    """serve(workers=1, **environment): gunicorn serving this test's world, stopped after it."""
    started = []

    def start(workers: int = 1, **environment) -> Gunicorn:
        server = Gunicorn(postgres, world, workers, **environment)
        started.append(server)
        server.wait_until_serving()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def report(record_property):
    """report(line): print a test's figures; pytest's summary shows them (tests/conftest.py),
    recorded once the test is over, whatever its outcome."""
    lines = []

    def add(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    yield add
    record_property(SUMMARY_PROPERTY, lines)


# The database, read from beside the app ---------------------------------------------------------


def contested(postgres: PrivatePostgres, world: str) -> list[SimpleNamespace]:
    """Adatum's legacy subscriptions: Contoso and Fabrikam are both eligible contacts."""
    with postgres.connect(world) as db:
        rows = db.execute(
            f"SELECT s.id, s.customer_id FROM {SUBSCRIPTIONS} s "
            "JOIN customers_customer c ON c.id = s.customer_id "
            "WHERE c.domain = 'adatum.example' AND s.commerce_type = 'legacy' ORDER BY s.id"
        ).fetchall()
    assert len(rows) >= 2, "the demo world has changed: Adatum has fewer legacy subscriptions"
    return [SimpleNamespace(pk=pk, customer_id=customer) for pk, customer in rows]


@dataclass
class Snapshot:
    """Subscriptions' (version, contact), and the last history row and event, at one time."""

    subscriptions: dict[int, tuple[int, int]]
    last_change: int
    last_event: int

    @classmethod
    def of(cls, postgres: PrivatePostgres, world: str, subscriptions) -> "Snapshot":
        with postgres.connect(world) as db:
            states = db.execute(
                f"SELECT id, version, support_contact_id FROM {SUBSCRIPTIONS} WHERE id = ANY(%s)",
                [[s.pk for s in subscriptions]],
            ).fetchall()
            last_change = db.execute(f"SELECT coalesce(max(id), 0) FROM {HISTORY}").fetchone()
            last_event = db.execute(f"SELECT coalesce(max(id), 0) FROM {EVENTS}").fetchone()
        return cls({pk: (v, c) for pk, v, c in states}, last_change[0], last_event[0])


@dataclass
class Since:
    """What was written after a snapshot: history rows (id, subscription, from, to) in order,
    and the history rows named by the events recorded."""

    changes: list[tuple[int, int, int, int]]
    announced: list[int]

    @classmethod
    def of(cls, postgres: PrivatePostgres, world: str, before: Snapshot) -> "Since":
        with postgres.connect(world) as db:
            changes = db.execute(
                f"SELECT id, subscription_id, from_contact_id, to_contact_id FROM {HISTORY} "
                "WHERE id > %s ORDER BY id",
                [before.last_change],
            ).fetchall()
            events = db.execute(
                f"SELECT data FROM {EVENTS} WHERE id > %s AND type = 'support_contact.changed'",
                [before.last_event],
            ).fetchall()
        return cls(changes, sorted(pk for (data,) in events for pk in data["changes"]))

    def chain_breaks(self, before: Snapshot, after: Snapshot) -> list[str]:
        """Each subscription's new rows lead from its contact before to its contact now, and its
        version went up by one a row: no change without its row, no row without its change."""
        breaks = []
        for pk, (version, contact) in before.subscriptions.items():
            mine = [c for c in self.changes if c[1] == pk]
            for change_id, _, from_contact, to_contact in mine:
                if from_contact != contact:
                    breaks.append(f"change {change_id} is from {from_contact}, not {contact}")
                contact = to_contact
            if (version + len(mine), contact) != after.subscriptions[pk]:
                breaks.append(
                    f"subscription {pk}: version {version} and {len(mine)} new rows ending at "
                    f"contact {contact}, but it now stands at {after.subscriptions[pk]}"
                )
        return breaks


def held_submit(postgres: PrivatePostgres, world: str) -> int:
    """The app's backend once it waits for the events table (its transaction has updated the
    subscription and inserted the history row): its pid."""
    deadline = time.monotonic() + WAIT
    with postgres.connect(world) as db:
        while time.monotonic() < deadline:
            row = db.execute(
                "SELECT pid, query FROM pg_stat_activity WHERE datname = %s "
                "AND backend_type = 'client backend' AND wait_event_type = 'Lock'",
                [world],
            ).fetchone()
            if row:
                pid, query = row
                assert query.startswith(f'INSERT INTO "{EVENTS}"'), f"waits elsewhere: {query}"
                return pid
            time.sleep(0.05)
    raise TimeoutError(f"no backend of {world} waited on a lock within {WAIT} s")


def wait_until_gone(postgres: PrivatePostgres, backend: int) -> None:
    deadline = time.monotonic() + WAIT
    with postgres.connect("postgres") as db:
        while time.monotonic() < deadline:
            if not db.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend]
            ).fetchone():
                return
            time.sleep(0.05)
    raise TimeoutError(f"backend {backend} still there after {WAIT} s")


def disconnect_the_app(postgres: PrivatePostgres, world: str) -> None:
    """End the app's connections: its next request opens a new one (and sees new defaults)."""
    with postgres.connect("postgres") as db:
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [world],
        )


@contextmanager
def events_locked(postgres: PrivatePostgres, world: str) -> Iterator[Callable[[], None]]:
    """The events table locked by another transaction, so a Submit stops before its event
    INSERT; yields release(), which may be called early."""
    with postgres.connect(world, autocommit=False) as locker:
        locker.execute(f"LOCK TABLE {EVENTS} IN ACCESS EXCLUSIVE MODE")
        yield locker.rollback
        locker.rollback()


# Staff, the subscription page and the Submit ----------------------------------------------------


class Staff(Browser):
    """adminagent's browser (bench.scaleout's), which keeps the last answer it was given."""

    last: Answer | None = None

    def request(self, *args, **kwargs) -> Answer:
        self.last = None
        self.last = super().request(*args, **kwargs)
        return self.last


def signed_in(port: int) -> Staff:
    staff = Staff(CLIENT)
    answer = staff.sign_in(port, STAFF)
    assert answer.status == 302, f"{STAFF} could not sign in: HTTP {answer.status}"
    return staff


@dataclass
class Form:
    """The subscription page's form as loaded: what a Submit sends back."""

    subscription: SimpleNamespace  # pk, customer_id
    token: str
    version: int
    others: list[str]  # the eligible contacts other than the current one

    def submit(self, staff: Staff, port: int) -> Answer:
        s = self.subscription
        form = {
            "csrfmiddlewaretoken": self.token,
            "version": self.version,
            "contact": self.others[0],
        }
        return staff.post(
            port, f"/customers/{s.customer_id}/subscriptions/{s.pk}/support-contact/", form
        )


def open_form(staff: Staff, port: int, subscription: SimpleNamespace) -> Form:
    """The subscription page, read as bench.scaleout reads it; Failed when it has no form."""
    racer = Racer(index=0, browser=staff, subscription=subscription, htmx=False)
    _, token, version, others = racer.page(port)
    if not others:
        raise Failed(f"subscription {subscription.pk} has one eligible contact only")
    return Form(subscription, token, version, others)


def unavailable_page_breaches(answer: Answer) -> list[str]:
    """How a 503 answer falls short of the page the app promises when the database is away."""
    breaches = []
    if not (answer.headers.get("Retry-After") or "").strip().isdigit():
        breaches.append(f"Retry-After is {answer.headers.get('Retry-After')!r}, not seconds")
    if NOTHING_CHANGED not in answer.text and SAVED not in answer.text:
        breaches.append(f"neither {NOTHING_CHANGED!r} nor {SAVED!r} on the page")
    if "Traceback" in answer.text:
        breaches.append("a traceback on the page")
    request_id = answer.headers.get("X-Request-ID")
    if not request_id:
        breaches.append("no X-Request-ID header")
    elif request_id not in answer.text:
        breaches.append(f"the page does not show the request id {request_id}")
    return breaches


def described(answer: Answer) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", answer.text)).strip()
    return f"HTTP {answer.status} {answer.headers.get('Location', '')} {text[:300]!r}"


def outcome(answer: Answer, subscription: SimpleNamespace) -> tuple[str, str]:
    """(succeeded | refused with 503 | stale | lost, what was wrong when lost) of a Submit."""
    location = answer.headers.get("Location", "")
    if answer.status == 302 and re.search(r"/changes/\d+/$", location):
        return SUCCEEDED, ""
    if answer.status == 302 and location.endswith(f"/subscriptions/{subscription.pk}/"):
        return STALE, ""
    if answer.status != 503:
        return LOST, described(answer)
    if breaches := unavailable_page_breaches(answer):
        return LOST, f"{described(answer)} {breaches}"
    return (SUCCEEDED if SAVED in answer.text else REFUSED), ""


def page_outcome(answer: Answer | None) -> tuple[str, str]:
    """A page load: loaded, refused with 503 (the promised page), or lost."""
    if answer is None:
        return LOST, "no answer"
    if answer.status == 200:
        return "loaded", ""
    if answer.status == 503 and not unavailable_page_breaches(answer):
        return REFUSED, ""
    return LOST, described(answer)


def assert_refused(answer: Answer, before: Snapshot, after: Snapshot) -> None:
    """The 503 page saying nothing was changed, and indeed nothing was."""
    assert answer.status == 503, described(answer)
    assert not unavailable_page_breaches(answer), (
        unavailable_page_breaches(answer),
        described(answer),
    )
    assert NOTHING_CHANGED in answer.text, described(answer)
    assert after == before, f"changed by a refused Submit: {before} → {after}"


class InFlight(threading.Thread):
    """A request sent in a thread of its own: its answer, or what stopped it."""

    def __init__(self, send: Callable[[], Answer]):
        super().__init__(daemon=True)
        self.send = send
        self.answer: Answer | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.answer = self.send()
        except NO_ANSWER as error:
            self.error = error

    def finished(self, seconds: float = WAIT) -> "InFlight":
        self.join(timeout=seconds)
        assert not self.is_alive(), f"no answer after {seconds} s"
        return self


# 1. The database restarted during a steady load of Submits -------------------------------------


@dataclass
class Load:
    """Staff Submitting in a loop, two on each subscription: load the page, Submit the other
    contact; while the page does not load, Submit again the form last loaded."""

    port: int
    staff: list[Staff]
    subscriptions: list[SimpleNamespace]
    submits: list[tuple[float, str]] = field(default_factory=list)  # (answered at, outcome)
    pages: Counter = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    without_request_id: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    counting: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.threads = [
            threading.Thread(target=self._client, args=(s, self.subscriptions[i % 2]), daemon=True)
            for i, s in enumerate(self.staff)
        ]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        deadline = time.monotonic() + 130  # a request's own bound is 120 s (bench's Browser)
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "a client still waits for an answer"

    def _client(self, staff: Staff, subscription: SimpleNamespace) -> None:
        form = None
        while not self.stopping.is_set():
            try:
                form = open_form(staff, self.port, subscription)
                self._page(staff.last)
            except (Failed, *NO_ANSWER):
                self._page(staff.last)
            if form is None:
                time.sleep(0.05)
                continue
            try:
                answer = form.submit(staff, self.port)
            except NO_ANSWER as error:
                self._submit(LOST, f"no answer: {error!r}")
                continue
            self._submit(*outcome(answer, subscription), answer)

    def _page(self, answer: Answer | None) -> None:
        kind, why = page_outcome(answer)
        with self.counting:
            self.pages[kind] += 1
            if why:
                self.lost.append(f"page: {why}")
            if answer is not None:
                self.without_request_id += not answer.headers.get("X-Request-ID")
        if kind != "loaded":
            time.sleep(0.05)  # as a person would, rather than a tight loop

    def _submit(self, kind: str, why: str, answer: Answer | None = None) -> None:
        with self.counting:
            self.submits.append((time.monotonic(), kind))
            if why:
                self.lost.append(f"Submit: {why}")
            if answer is not None:
                self.without_request_id += not answer.headers.get("X-Request-ID")
        if kind in (REFUSED, LOST):
            time.sleep(0.05)

    def count(self, kind: str) -> int:
        return sum(1 for _, k in list(self.submits) if k == kind)

    def first_success_after(self, moment: float) -> float | None:
        return min(
            (t for t, k in list(self.submits) if k == SUCCEEDED and t >= moment), default=None
        )

    def wait_for(self, condition: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return False


DOWN_SECONDS = 2.0
RECOVERY_SECONDS = 5.0


def test_database_restart_under_load_loses_no_submit(postgres, world, serve, report):
    server = serve(workers=2)
    subscriptions = contested(postgres, world)[:2]
    before = Snapshot.of(postgres, world, subscriptions)
    load = Load(server.port, [signed_in(server.port) for _ in range(4)], subscriptions)
    load.start()
    try:
        assert load.wait_for(lambda: load.count(SUCCEEDED) >= 4, WAIT), "no steady load"
        stopped = time.monotonic()
        postgres.stop("fast")  # sessions ended, transactions in flight rolled back
        time.sleep(DOWN_SECONDS)
        ready = postgres.start()
        load.wait_for(lambda: load.first_success_after(ready) is not None, 2 * RECOVERY_SECONDS)
        time.sleep(2)  # and a steady load again
    finally:
        load.stop()
    after = Snapshot.of(postgres, world, subscriptions)
    since = Since.of(postgres, world, before)

    first = load.first_success_after(ready)
    recovery = None if first is None else first - ready
    succeeded = load.count(SUCCEEDED)
    report(
        f"fault 1, database restarted under load: {len(load.submits)} Submits sent, {succeeded} "
        f"succeeded, {load.count(REFUSED)} refused with 503, {load.count(STALE)} stale, lost: "
        f"{load.count(LOST)}; pages {load.pages['loaded']} loaded, {load.pages[REFUSED]} refused "
        f"with 503, lost: {load.pages[LOST]}; down {ready - stopped:.1f} s; Submits landed "
        + ("never again" if recovery is None else f"again {recovery:.2f} s after its return")
        + f"; history rows added {len(since.changes)}, events {len(since.announced)}"
    )
    assert not load.lost, f"{len(load.lost)} lost, the first: {load.lost[:5]}\n{server.log_tail()}"
    assert load.without_request_id == 0, f"{load.without_request_id} answers without X-Request-ID"
    assert load.count(REFUSED) > 0, "no Submit was refused: the restart came between requests"
    assert len(since.changes) == succeeded, "history rows and Submits that succeeded differ"
    assert since.announced == [c[0] for c in since.changes], "history rows and events differ"
    assert not since.chain_breaks(before, after), since.chain_breaks(before, after)
    assert recovery is not None, f"no Submit landed within {2 * RECOVERY_SECONDS} s of the return"
    assert recovery <= RECOVERY_SECONDS


# 2. A worker killed in the middle of a Submit ---------------------------------------------------


def test_worker_killed_mid_submit_leaves_no_partial_change(postgres, world, serve, report):
    server = serve(workers=1, DJANGO_DB_STATEMENT_TIMEOUT_MS=HELD_MS)
    staff = signed_in(server.port)
    subscription = contested(postgres, world)[0]
    form = open_form(staff, server.port, subscription)
    before = Snapshot.of(postgres, world, [subscription])
    (worker,) = server.workers()

    with events_locked(postgres, world) as release:
        submit = InFlight(lambda: form.submit(staff, server.port))
        submit.start()
        backend = held_submit(postgres, world)
        os.kill(worker, signal.SIGKILL)
        cut_off = submit.finished()
        release()  # the backend goes on, finds its client gone, and rolls back
    wait_until_gone(postgres, backend)
    unchanged = Snapshot.of(postgres, world, [subscription])

    deadline = time.monotonic() + 30
    while not server.workers() - {worker} and time.monotonic() < deadline:
        time.sleep(0.1)
    replacements = server.workers() - {worker}
    server.wait_until_serving()
    next_answer = open_form(staff, server.port, subscription).submit(staff, server.port)
    kind, why = outcome(next_answer, subscription)
    since = Since.of(postgres, world, before)
    report(
        "fault 2, worker SIGKILLed mid-Submit: 2 Submits sent, "
        f"{int(kind == SUCCEEDED)} succeeded, {int(kind == REFUSED)} refused with 503, 1 cut off "
        f"by the kill ({type(cut_off.error).__name__ if cut_off.answer is None else 'answered'}), "
        f"lost: {int(kind == LOST) + int(unchanged != before)}; worker {worker} replaced by "
        f"{sorted(replacements)}; history rows added {len(since.changes)}"
    )
    assert cut_off.answer is None, f"the killed worker answered: {described(cut_off.answer)}"
    assert unchanged == before, f"a partial change stayed: {before} → {unchanged}"
    assert replacements, f"the master did not start a new worker:\n{server.log_tail()}"
    assert kind == SUCCEEDED, why
    assert len(since.changes) == 1
    assert since.announced == [since.changes[0][0]]


# 3. A read-only database, a full disk ---------------------------------------------------------


def test_read_only_database_answers_503_and_changes_nothing(postgres, world, serve, report):
    server = serve(workers=1)
    staff = signed_in(server.port)
    subscription = contested(postgres, world)[0]
    form = open_form(staff, server.port, subscription)
    before = Snapshot.of(postgres, world, [subscription])

    with postgres.connect("postgres") as db:
        db.execute(f'ALTER DATABASE "{world}" SET default_transaction_read_only = on')
    disconnect_the_app(postgres, world)
    refused = form.submit(staff, server.port)
    unchanged = Snapshot.of(postgres, world, [subscription])
    page = staff.get(
        server.port, f"/customers/{subscription.customer_id}/subscriptions/{subscription.pk}/"
    )
    page_kind, page_why = page_outcome(page)

    with postgres.connect("postgres") as db:
        db.execute(f'ALTER DATABASE "{world}" RESET default_transaction_read_only')
    disconnect_the_app(postgres, world)
    again = open_form(staff, server.port, subscription).submit(staff, server.port)
    kinds = [outcome(refused, subscription)[0], outcome(again, subscription)[0]]
    report(
        f"fault 3, read-only database: 2 Submits sent, {kinds.count(SUCCEEDED)} succeeded (once "
        f"writable again), {kinds.count(REFUSED)} refused with 503, lost: {kinds.count(LOST)}; "
        f"the subscription's page meanwhile: {page_kind} (HTTP {page.status})"
    )
    assert_refused(refused, before, unchanged)
    assert not page_why, page_why
    assert outcome(again, subscription) == (SUCCEEDED, "")


# 4. A statement beyond the statement timeout ----------------------------------------------------


def test_statement_timeout_answers_503_and_releases_the_row_lock(postgres, world, serve, report):
    server = serve(workers=1, DJANGO_DB_STATEMENT_TIMEOUT_MS="1000")
    staff = signed_in(server.port)
    subscription = contested(postgres, world)[0]
    form = open_form(staff, server.port, subscription)
    before = Snapshot.of(postgres, world, [subscription])

    with events_locked(postgres, world):
        started = time.monotonic()
        refused = form.submit(staff, server.port)
        waited = time.monotonic() - started
        # The events table still locked, the Submit's row lock is gone already (NOWAIT: an
        # error if not), and the row as it was.
        with postgres.connect(world, autocommit=False) as other:
            row_while_locked = other.execute(
                f"SELECT version, support_contact_id FROM {SUBSCRIPTIONS} "
                "WHERE id = %s FOR UPDATE NOWAIT",
                [subscription.pk],
            ).fetchone()
            other.rollback()
    unchanged = Snapshot.of(postgres, world, [subscription])
    again = open_form(staff, server.port, subscription).submit(staff, server.port)
    kinds = [outcome(refused, subscription)[0], outcome(again, subscription)[0]]
    report(
        f"fault 4, statement timeout (1 s): 2 Submits sent, {kinds.count(SUCCEEDED)} succeeded "
        f"(the lock gone), {kinds.count(REFUSED)} refused with 503 after {waited:.1f} s, lost: "
        f"{kinds.count(LOST)}; the subscription's row lock free while the events table was still "
        "locked"
    )
    assert_refused(refused, before, unchanged)
    assert row_while_locked == before.subscriptions[subscription.pk]
    assert outcome(again, subscription) == (SUCCEEDED, "")


# 5. Graceful shutdown ---------------------------------------------------------------------------


def test_sigterm_lets_the_submit_in_flight_finish(postgres, world, serve, report):
    server = serve(workers=1, DJANGO_DB_STATEMENT_TIMEOUT_MS=HELD_MS)
    staff = signed_in(server.port)
    subscription = contested(postgres, world)[0]
    form = open_form(staff, server.port, subscription)
    before = Snapshot.of(postgres, world, [subscription])

    with events_locked(postgres, world) as release:
        submit = InFlight(lambda: form.submit(staff, server.port))
        submit.start()
        held_submit(postgres, world)
        told = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        release()
        finished = submit.finished()
    exit_code = server.process.wait(timeout=WAIT)
    exited = time.monotonic() - told
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    since = Since.of(postgres, world, before)
    kind, why = (
        outcome(finished.answer, subscription) if finished.answer else (LOST, repr(finished.error))
    )
    report(
        f"fault 5, SIGTERM during a Submit: 1 Submit sent, {int(kind == SUCCEEDED)} succeeded, "
        f"{int(kind == REFUSED)} refused with 503, lost: {int(kind == LOST)}; gunicorn exited "
        f"(code {exit_code}) {exited:.1f} s after SIGTERM; history rows added {len(since.changes)}"
    )
    assert kind == SUCCEEDED, f"{why}\n{server.log_tail()}"
    assert [c[3] for c in since.changes] == [int(form.others[0])]
    assert exit_code == 0


# 3b. A full disk (root: a small tmpfs) ----------------------------------------------------------


@pytest.fixture
def small_disk(postgres):
    """A tablespace on an 8 MiB tmpfs of its own: its name and mount point. Mounting needs
    root, as in .ci/run; elsewhere the test is skipped."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (.ci/run runs it as root)")
    mount_point = Path(tempfile.mkdtemp(prefix="faults-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    if mounted.returncode:
        mount_point.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    tablespace = f"small_disk_{postgres.port}"
    try:
        location = mount_point / "pg"
        location.mkdir()
        server_owned(location)
        with postgres.connect("postgres") as db:
            db.execute(f"CREATE TABLESPACE {tablespace} LOCATION '{location}'")
        yield tablespace, mount_point
    finally:
        with suppress(Exception), postgres.connect("postgres") as db:
            db.execute(f"DROP TABLESPACE IF EXISTS {tablespace}")
        unmounted = subprocess.run(["umount", str(mount_point)], capture_output=True, timeout=WAIT)
        if unmounted.returncode:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=WAIT)
        mount_point.rmdir()


# With fillfactor 10 a page takes a handful of history rows: the pages the table has are full
# after a few Submits at most, and the next one needs a new page, which the full disk refuses.
FULL_DISK_ATTEMPTS = 20


def fill(folder: Path) -> Path:
    """A file that takes every byte left on `folder`'s file system."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        for chunk in (bytes(1 << 20), bytes(4096)):
            for _ in range(100_000):
                try:
                    out.write(chunk)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    return filler


def test_full_disk_answers_503_and_changes_nothing(small_disk, postgres, world, serve, report):
    tablespace, mount_point = small_disk
    with postgres.connect(world) as db:
        db.execute(f"ALTER TABLE {HISTORY} SET TABLESPACE {tablespace}")
        # A new page every few history rows (FULL_DISK_ATTEMPTS).
        db.execute(f"ALTER TABLE {HISTORY} SET (fillfactor = 10)")
    server = serve(workers=1)
    staff = signed_in(server.port)
    subscription = contested(postgres, world)[0]
    filler = fill(mount_point)

    kinds, refused = [], None
    for _ in range(FULL_DISK_ATTEMPTS):
        form = open_form(staff, server.port, subscription)
        before = Snapshot.of(postgres, world, [subscription])
        answer = form.submit(staff, server.port)
        kinds.append(outcome(answer, subscription)[0])
        if answer.status != 302:
            refused = answer
            break
    unchanged = Snapshot.of(postgres, world, [subscription])
    filler.unlink()
    again = open_form(staff, server.port, subscription).submit(staff, server.port)
    kinds.append(outcome(again, subscription)[0])
    report(
        f"fault 3b, disk full: {len(kinds)} Submits sent, {kinds.count(SUCCEEDED)} succeeded "
        f"(while a history page still had room, and once space was freed), "
        f"{kinds.count(REFUSED)} refused with 503, lost: {kinds.count(LOST)}"
    )
    assert refused is not None, f"{FULL_DISK_ATTEMPTS} Submits landed on a full disk: {kinds}"
    assert_refused(refused, before, unchanged)
    assert outcome(again, subscription) == (SUCCEEDED, "")
