"""The webhooks' part of `make bench`: one task worker delivering `count` webhooks to a receiver.

Issue 15 asks that a worker deliver at least 200 webhooks/s to a local receiver. This script
measures it on PostgreSQL, in a scratch database of its own (BENCH_WEBHOOKS_DATABASE_URL),
created, migrated and dropped at the end:

- `count` pending deliveries of one endpoint on 127.0.0.1, each its own event, each body a
  support_contact.changed envelope of a realistic size (written directly: the dispatch that
  renders them is not what is measured);
- the receiver in a process of its own: a minimal HTTP/1.1 server answering 204 on keep-alive
  connections, which notes when the first and the last delivery arrived;
- ONE `manage.py db_worker` as in production (bench.settings, DEBUG off, persistent connections,
  prepared statements); once it has started, the drain is asked for, as a committed event asks
  for it, and the worker runs until every delivery succeeded.

Reported: deliveries per second (from the first to the last delivery as the receiver saw them),
the worker's CPU per delivery and that of the PostgreSQL backends of the scratch database (from
/proc, bench/run.py's CpuMeter), and the time from asking for the drain to the last delivery.
`make bench` adds the section to its report (it runs this script in a process of its own: Django
is set up there on the scratch database); alone, it writes bench/results/webhooks-<date>.md.

    .venv/bin/python -m bench.webhooks [count]        # 3,000 by default
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/partnercenter_bench_webhooks"
FULL, SMOKE = 3_000, 200
TARGET = 200  # webhooks/s (issue 15)
WAIT_AT_MOST = 600  # seconds for every delivery to succeed


# The receiver ----------------------------------------------------------------------------------


class _Tally:
    def __init__(self):
        self.count, self.first, self.last, self.connections = 0, 0.0, 0.0, 0


async def _answer(reader, writer, tally: _Tally) -> None:
    """POST: read it, answer 204, keep the connection; GET: the tally, as JSON."""
    posted = False
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            if head.startswith(b"POST "):
                tally.connections += not posted  # the connections deliveries came on
                posted = True
                now = time.time()
                tally.count += 1
                tally.first = tally.first or now
                tally.last = now
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            else:
                body = json.dumps(vars(tally)).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _receive() -> None:
    tally = _Tally()
    server = await asyncio.start_server(
        lambda r, w: _answer(r, w, tally), "127.0.0.1", 0, reuse_address=True
    )
    print(server.sockets[0].getsockname()[1], flush=True)  # the port, for the one who started it
    async with server:
        await server.serve_forever()


def start_receiver() -> tuple[subprocess.Popen, int]:
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.webhooks", "--receive"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return receiver, int(receiver.stdout.readline())


def receiver_tally(port: int) -> dict:
    from http.client import HTTPConnection

    connection = HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/tally")
    return json.loads(connection.getresponse().read())


# The scratch database and its deliveries -------------------------------------------------------


def _database(url: str, *, create: bool) -> None:
    import psycopg

    from bench.run import _maintenance_dsn

    maintenance, name = _maintenance_dsn(url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def _sample_data() -> dict:
    """A support_contact.changed event's data as a reseller's endpoint receives it."""
    customer, subscription, reseller = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    subscription_uri = f"/customers/{customer}/subscriptions/{subscription}"
    return {
        "operationId": None,
        "supportContactChanges": [
            {
                "customer": {
                    "id": str(customer),
                    "companyName": "Adventure Works Cycles",
                    "links": {"self": {"uri": f"/customers/{customer}", "method": "GET"}},
                },
                "subscription": {
                    "id": str(subscription),
                    "offerName": "Office 365 Business Premium",
                    "links": {"self": {"uri": subscription_uri, "method": "GET", "headers": []}},
                },
                "previousSupportContact": None,
                "supportContact": {
                    "supportTenantId": str(reseller),
                    "supportMpnId": "5120042",
                    "name": "Fabrikam Solutions",
                    "links": {
                        "self": {
                            "uri": f"{subscription_uri}/supportcontact",
                            "method": "GET",
                            "headers": [],
                        }
                    },
                    "attributes": {"objectType": "SupportContact"},
                },
                "changedAt": "2026-11-22T15:01:00Z",
                "through": "form",
            }
        ],
    }


def create_deliveries(count: int, url: str) -> int:
    """`count` pending deliveries to `url`, each of its own event; the size of a body."""
    from django.utils import timezone

    from events.models import Event, EventType
    from notifications.delivery import envelope
    from notifications.models import Delivery, WebhookEndpoint
    from partnercenter.models import Partner

    reseller = Partner.objects.create(
        kind=Partner.Kind.INDIRECT_RESELLER, name="Fabrikam Solutions", partner_id="5120042"
    )
    endpoint = WebhookEndpoint.objects.create(
        partner=reseller, url=url, event_types=[EventType.SUPPORT_CONTACT_CHANGED]
    )
    # bulk_create sends no post_save: nothing asks for a drain before the worker is ready.
    now = timezone.now()
    events = Event.objects.bulk_create(
        Event(type=EventType.SUPPORT_CONTACT_CHANGED, data={"changes": [i]}, dispatched_at=now)
        for i in range(count)
    )
    bodies = [envelope(event, _sample_data()).decode() for event in events]
    Delivery.objects.bulk_create(
        Delivery(
            event=event,
            channel=Delivery.Channel.WEBHOOK,
            endpoint=endpoint,
            partner=reseller,
            body=body,
        )
        for event, body in zip(events, bodies, strict=True)
    )
    return len(bodies[0])


# The measurement -------------------------------------------------------------------------------


def _wait_for(condition, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"Waited {seconds:g} s for {what}.")
        time.sleep(0.05)


def measure(count: int, url: str) -> str:
    """Everything, in this process set up on the scratch database `url`: the section's text."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    from bench.run import CpuMeter
    from notifications.models import Delivery
    from notifications.tasks import drain_outbox, drain_soon

    call_command("migrate", "--no-input", verbosity=0)
    receiver, port = start_receiver()
    worker = None
    try:
        body_bytes = create_deliveries(count, f"http://127.0.0.1:{port}/hooks/partnercenter")
        worker = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--no-startup-delay",
                "--interval",
                "0.2",
                "--no-reload",
            ],
            cwd=ROOT,
            env=os.environ,
        )
        # Started once its start has scheduled the sweep; then idle, polling the queue.
        _wait_for(
            DBTaskResult.objects.filter(task_path=drain_outbox.module_path).exists,
            "the worker to start",
            60,
        )
        time.sleep(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            own_backend = cursor.fetchone()[0]
        meter = CpuMeter(worker, urlsplit(url).path.lstrip("/"), {os.getpid(), own_backend})
        meter.start()
        asked = time.time()
        drain_soon()  # as a committed event does
        pending = Delivery.objects.filter(state=Delivery.State.PENDING)
        _wait_for(lambda: not pending.exists(), "every delivery", WAIT_AT_MOST)
        cpu_ms = meter.stop()
        tally = receiver_tally(port)
        states = dict(Delivery.objects.values_list("state").annotate(n=Count("pk")).order_by())
    finally:
        if worker is not None:
            worker.kill()
            worker.wait(30)
        receiver.kill()
        receiver.wait(30)
        connection.close()
    return section(count, body_bytes, tally, asked, cpu_ms, meter.postgres_ms, states)


def section(count, body_bytes, tally, asked, cpu_ms, postgres_ms, states) -> str:
    span = tally["last"] - tally["first"]
    rate = count / span if span > 0 else 0.0
    worker_ms = (cpu_ms - postgres_ms) / count
    return "\n".join(
        [
            "## Webhooks",
            "",
            f"One `manage.py db_worker` (bench.settings: DEBUG off, persistent connections, "
            f"prepared statements) delivering {count:,} pending webhooks of one endpoint, each "
            f"its own event with a signed support_contact.changed body of {body_bytes:,} bytes, "
            "to a receiver on 127.0.0.1 in a process of its own (HTTP/1.1 keep-alive, answering "
            "204), in a scratch PostgreSQL database. CPU from /proc.",
            "",
            "| figure | value |",
            "|---|--:|",
            f"| **webhooks delivered per second** (target: at least {TARGET}) | "
            f"**{rate:,.0f}** ({'met' if rate >= TARGET else 'not met'}) |",
            f"| first to last delivery, as the receiver saw them | {span:.2f} s |",
            f"| from asking for the drain to the last delivery | {tally['last'] - asked:.2f} s |",
            f"| the worker's CPU per delivery | {worker_ms:.2f} ms |",
            f"| PostgreSQL's CPU per delivery (the backends of this database) | "
            f"{postgres_ms / count:.2f} ms |",
            "",
            f"Outcome: {states.get('succeeded', 0):,} succeeded, {states.get('pending', 0):,} "
            f"pending, {states.get('failed', 0):,} failed; the receiver answered "
            f"{tally['count']:,} requests on {tally['connections']} connection(s).",
        ]
    )


def measure_apart(count: int, database_url: str) -> str:
    """The section, measured by this script in a process of its own on the scratch database
    `database_url` (for bench/run.py, whose own process is set up on the benchmark's world)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "webhooks.md"
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["BENCH_WEBHOOKS_DATABASE_URL"] = database_url
        subprocess.run(
            [sys.executable, "-m", "bench.webhooks", str(count), f"--section-to={out}"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        return out.read_text()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=FULL, help="webhooks to deliver")
    parser.add_argument("--out", type=Path, default=None, help="where to write the report")
    parser.add_argument("--section-to", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.receive:
        asyncio.run(_receive())
        return 0

    from bench.run import RESULTS, serve_as_in_production

    url = os.environ.get("BENCH_WEBHOOKS_DATABASE_URL", DEFAULT_DATABASE_URL)
    serve_as_in_production(url, DJANGO_WEBHOOKS_ALLOW_PRIVATE="1")
    _database(url, create=True)
    try:
        import django

        sys.path.insert(0, str(ROOT))
        django.setup()
        text = measure(args.count, url)
    finally:
        _database(url, create=False)
    print(text)
    if args.section_to:
        args.section_to.write_text(text)
        return 0
    out = args.out or RESULTS / f"webhooks-{datetime.now(UTC):%Y-%m-%d-%H%M}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        f"# partnercenter webhooks benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
    )
    with out.open("a") as report:
        report.write(text.removeprefix("## Webhooks\n\n") + "\n")
    print(f"Written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
