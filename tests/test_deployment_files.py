"""The deployment files run the commands README.md gives, and nothing else.

Docker cannot build here and systemd does not run the tests, so the Dockerfile, compose.yaml and
deploy/systemd/ are parsed, and each command in them is compared with the one in the README's
Production and Workers code blocks, read from the README itself: change a command there and
these tests say which file to change with it. The image's health check is the one part that is
run: a one-line Python program, against a stub server.
"""

import configparser
import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import pytest

# PyYAML is in requirements.lock (through schemathesis, a dev extra), so in every environment
# the tests run in; compose.yaml is ordinary YAML (with a merge key), not a subset to hand-parse.
import yaml
from gunicorn.config import GracefulTimeout

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "deploy" / "systemd"
README = (ROOT / "README.md").read_text()


# --- README.md ----------------------------------------------------------------------------------


def _section(title):
    """The text of the README's `## title` section, its subsections included."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.M | re.S)
    assert match, f"README.md has no section '## {title}'"
    return match.group(1)


def _shell_lines(text):
    """Each command of the text's ```sh blocks as argv, continuations joined, comments dropped."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S):
        for line in re.sub(r"\\\n", " ", block).splitlines():
            argv = shlex.split(line, comments=True)
            if argv:
                commands.append(argv)
    return commands


def _readme_commands():
    """{'gunicorn': argv, 'migrate': argv, ...}: the commands of Production (Workers included).

    The key is the program for a program, the management command for `python manage.py`; the
    program keeps the README's path (`.venv/bin/gunicorn`), relative to the project folder.
    """
    commands = {}
    for argv in _shell_lines(_section("Production")):
        name = PurePosixPath(argv[0]).name
        if name.startswith("python") and argv[1:2] == ["manage.py"]:
            commands[argv[2]] = argv
        elif name == "gunicorn":
            commands["gunicorn"] = argv
    return commands


COMMANDS = _readme_commands()


def _bare(argv):
    """argv with the program named as on a PATH: `.venv/bin/python` → `python`."""
    return [PurePosixPath(argv[0]).name, *argv[1:]]


def _option(argv, *names):
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name:
                return argv[i + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def _without_bind(argv):
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--bind", "-b"):
            skip = True
        elif not arg.startswith("--bind="):
            out.append(arg)
    return out


def _graceful_timeout():
    """How long gunicorn lets requests in flight finish on SIGTERM, with the README's flags."""
    value = _option(COMMANDS["gunicorn"], "--graceful-timeout")
    return int(value) if value else GracefulTimeout.default


def _configuration_variables():
    """Every variable named in the first column of the README's Configuration table."""
    names = set()
    for line in _section("Configuration").splitlines():
        if line.startswith("|"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_the_readme_gives_the_commands_the_files_run():
    assert {"gunicorn", "migrate", "collectstatic", "db_worker", "prune_db_task_results"} <= set(
        COMMANDS
    )
    assert COMMANDS["gunicorn"][1] == "partnercenter.wsgi"


# --- Dockerfile ---------------------------------------------------------------------------------


def _dockerfile():
    """[(INSTRUCTION, arguments)]: continuations joined, comments dropped, as Docker reads it."""
    instructions, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        name, _, args = (pending + stripped).partition(" ")
        instructions.append((name.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation"
    return instructions


DOCKERFILE = _dockerfile()


def _all(name):
    return [args for instruction, args in DOCKERFILE if instruction == name]


def _index(name, predicate=lambda args: True):
    return next(
        i
        for i, (instruction, args) in enumerate(DOCKERFILE)
        if instruction == name and predicate(args)
    )


def _runs():
    """Each RUN's commands (split on &&) as argv."""
    return [shlex.split(part) for args in _all("RUN") for part in args.split("&&")]


def test_the_image_is_slim_python_3_11_and_runs_as_a_user_of_its_own():
    assert _all("FROM") == ["python:3.11-slim"]
    users = _all("USER")
    assert users, "the image runs as root: it needs a USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # The user is created in the image, and is the one the server starts as.
    assert any(argv[:1] == ["useradd"] and argv[-1] == user for argv in _runs())
    assert _index("USER", lambda args: args == users[-1]) < _index("CMD")


def test_the_image_installs_the_lock_checked_by_hash():
    installs = [argv for argv in _runs() if argv[:2] == ["pip", "install"]]
    assert len(installs) == 1
    assert "--require-hashes" in installs[0]
    assert _option(installs[0], "-r", "--requirement") == "requirements.lock"
    assert _index("COPY", lambda args: "requirements.lock" in args) < _index(
        "RUN", lambda args: "requirements.lock" in args
    )


def test_the_image_collects_static_files_at_build_with_a_throwaway_key():
    runs = [argv for argv in _runs() if "collectstatic" in argv]
    assert len(runs) == 1
    argv = runs[0]
    assignments = []
    while "=" in argv[0]:
        assignments.append(argv.pop(0).split("=", 1)[0])
    assert argv == _bare(COMMANDS["collectstatic"])
    # The settings need a key to load; it is given to that one command, never kept in the image.
    assert assignments == ["DJANGO_SECRET_KEY"]
    assert not any("DJANGO_SECRET_KEY" in args for args in _all("ENV") + _all("ARG"))
    assert _index("COPY", lambda args: args == ". .") < _index(
        "RUN", lambda args: "collectstatic" in args
    )


def test_the_image_serves_the_readmes_gunicorn_command_on_port_8000():
    command = json.loads(_all("CMD")[-1])
    assert _all("ENTRYPOINT") == [], "compose.yaml replaces the command: no entrypoint around it"
    assert _without_bind(command) == _without_bind(_bare(COMMANDS["gunicorn"]))
    assert _option(command, "--bind", "-b") == "0.0.0.0:8000"
    assert _all("EXPOSE") == ["8000"]
    assert _all("STOPSIGNAL") in ([], ["SIGTERM"])


def test_dockerignore_keeps_local_state_and_secrets_out():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", ".env", "db.sqlite3", "bench/results", "staticfiles"} <= ignored
    assert "**/__pycache__" in ignored


class _Stub(BaseHTTPRequestHandler):
    status = 200
    seen = []

    def do_GET(self):
        type(self).seen.append((self.path, self.headers["Host"], self.headers["X-Forwarded-Proto"]))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    _Stub.seen, _Stub.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _healthcheck(port, env):
    _, _, command = _all("HEALTHCHECK")[-1].partition("CMD ")
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    code = argv[2]
    assert code.count("http://127.0.0.1:8000/healthz") == 1
    code = code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, timeout=30, check=False
    )


def test_the_health_check_asks_healthz_as_the_proxy_would(stub_server):
    port = stub_server.server_address[1]

    done = _healthcheck(port, {"DJANGO_ALLOWED_HOSTS": "pc.example.com,localhost"})
    assert done.returncode == 0, done.stderr
    # An allowed host, and HTTPS as the proxy says, so that neither DJANGO_ALLOWED_HOSTS nor
    # DJANGO_SECURE's redirect turns the answer into a 400 or a 301.
    assert _Stub.seen == [("/healthz", "pc.example.com", "https")]

    assert _healthcheck(port, {"DJANGO_ALLOWED_HOSTS": ".example.com"}).returncode == 0
    assert _healthcheck(port, {}).returncode == 0
    assert [host for _, host, _ in _Stub.seen[1:]] == ["example.com", "localhost"]

    _Stub.status = 503
    assert _healthcheck(port, {}).returncode != 0


# --- compose.yaml -------------------------------------------------------------------------------


COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def _seconds(duration):
    """Seconds in a duration as compose ("40s", "2m") or systemd ("45", "2min 30s") writes it."""
    match = re.fullmatch(r"(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s?)?", duration.strip())
    assert duration.strip(), duration
    assert match, duration
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def test_compose_runs_the_site_the_worker_and_the_migrations_from_one_image():
    assert {"web", "worker", "migrate", "db", "redis"} <= set(SERVICES)
    app = [SERVICES[name] for name in ("web", "worker", "migrate")]
    assert all(service["build"] == "." for service in app)
    assert len({service["image"] for service in app}) == 1
    assert len({json.dumps(service["environment"], sort_keys=True) for service in app}) == 1


def test_compose_runs_the_readmes_commands():
    # The site runs the image's command, the README's gunicorn.
    assert "command" not in SERVICES["web"]
    assert "8000:8000" in SERVICES["web"]["ports"]
    assert SERVICES["migrate"]["command"] == _bare(COMMANDS["migrate"])
    assert SERVICES["worker"]["command"] == _bare(COMMANDS["db_worker"])
    # Only the site serves /healthz; the one-shot and the worker do not inherit its check.
    assert SERVICES["worker"]["healthcheck"] == {"disable": True}
    assert SERVICES["migrate"]["restart"] == "no"


def test_compose_starts_the_site_and_worker_after_the_database_and_the_migrations():
    for name in ("web", "worker"):
        depends = SERVICES[name]["depends_on"]
        assert depends["db"] == {"condition": "service_healthy"}
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
    assert SERVICES["migrate"]["depends_on"]["db"] == {"condition": "service_healthy"}
    # docker stop's SIGKILL comes after gunicorn has let requests in flight finish.
    assert _seconds(SERVICES["web"]["stop_grace_period"]) > _graceful_timeout()


def test_compose_database_and_cache():
    db = SERVICES["db"]
    assert db["image"] == "postgres:15"
    assert "pg_isready" in db["healthcheck"]["test"]
    volume = db["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]
    assert SERVICES["redis"]["image"] == "redis:7"

    env = SERVICES["web"]["environment"]
    assert env["DJANGO_CACHE_URL"] == "redis://redis:6379/1"
    url = re.fullmatch(r"postgres://(\w+):(.+)@db:5432/(\w+)", env["DATABASE_URL"])
    assert url, env["DATABASE_URL"]
    assert url.groups() == (
        db["environment"]["POSTGRES_USER"],
        db["environment"]["POSTGRES_PASSWORD"],
        db["environment"]["POSTGRES_DB"],
    )


def test_compose_documents_the_environment_the_readme_describes():
    env = SERVICES["web"]["environment"]
    assert {
        "DATABASE_URL",
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DJANGO_SECURE",
        "DJANGO_CACHE_URL",
        "DJANGO_EMAIL_BACKEND",
        "DJANGO_EMAIL_HOST",
        "DJANGO_SITE_URL",
    } <= set(env)
    # No default: compose refuses to start without a secret key.
    assert re.fullmatch(r"\$\{DJANGO_SECRET_KEY:\?[^}]+\}", env["DJANGO_SECRET_KEY"])
    # Every variable set is one the settings read, as the Configuration table lists them.
    assert set(env) <= _configuration_variables()


# --- deploy/systemd -----------------------------------------------------------------------------


def _unit(name):
    parser = configparser.ConfigParser(
        strict=False, interpolation=None, delimiters=("=",), comment_prefixes=("#", ";")
    )
    parser.optionxform = str
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def _exec_start(unit):
    """ExecStart as the README writes it: the program relative to WorkingDirectory."""
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    program = PurePosixPath(argv[0])
    return [str(program.relative_to(service["WorkingDirectory"])), *argv[1:]]


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("partnercenter-web.service", "gunicorn"),
        ("partnercenter-worker@.service", "db_worker"),
        ("partnercenter-prune.service", "prune_db_task_results"),
    ],
)
def test_systemd_units_run_the_readmes_commands_as_their_own_user(name, command):
    unit = _unit(name)
    service = unit["Service"]
    assert _exec_start(unit) == COMMANDS[command]
    assert service["User"] not in ("root", "0")
    assert service["EnvironmentFile"].lstrip("-") == "/etc/partnercenter.env"


@pytest.mark.parametrize("name", ["partnercenter-web.service", "partnercenter-worker@.service"])
def test_systemd_servers_restart_and_stop_gracefully(name):
    service = _unit(name)["Service"]
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert _unit(name)["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_web_waits_for_requests_in_flight():
    service = _unit("partnercenter-web.service")["Service"]
    assert _seconds(service["TimeoutStopSec"]) > _graceful_timeout()
    # SIGTERM to the master only, which stops its workers once their requests are done.
    assert service["KillMode"] == "mixed"


def test_systemd_timer_prunes_daily():
    timer = _unit("partnercenter-prune.timer")
    assert timer["Timer"]["OnCalendar"] == "daily"
    assert (
        timer["Timer"].get("Unit", "partnercenter-prune.service") == "partnercenter-prune.service"
    )
    assert _unit("partnercenter-prune.service")["Service"]["Type"] == "oneshot"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
def test_systemd_analyze_finds_nothing_wrong_in_the_units(tmp_path):
    for unit in SYSTEMD.iterdir():
        shutil.copy(unit, tmp_path / unit.name)
    shutil.copy(
        SYSTEMD / "partnercenter-worker@.service", tmp_path / "partnercenter-worker@1.service"
    )
    names = [u.name for u in tmp_path.iterdir() if u.name != "partnercenter-worker@.service"]
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(f"./{name}" for name in sorted(names))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # The release is not installed in /srv here: only that may be reported.
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if "partnercenter-" in line and "is not executable" not in line
    ]
    assert problems == []
