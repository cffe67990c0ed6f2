"""Imports point one way: no module imports from a layer above its own (docs/architecture.md).

partnercenter (users, partners, roles, the access policy, sign-in) and events (the outbox) are the
bottom; relationships builds on them; customers on both; dashboard, demo, api and notifications
on everything. Only the settings and the
root URLconf know every app.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {
    "partnercenter": 0,
    "events": 0,
    "relationships": 1,
    "customers": 2,
    "dashboard": 3,
    "demo": 3,
    "api": 3,
    "notifications": 3,
}
KNOWS_EVERY_APP = {"partnercenter/settings.py", "partnercenter/root_urls.py"}


def _modules():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative not in KNOWS_EVERY_APP:
                yield app, relative, path


def _imported_apps(path: Path) -> set[str]:
    apps = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            apps |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            apps.add(node.module.split(".")[0])
    return apps & set(LAYERS)


MODULES = list(_modules())


def test_every_app_has_modules():
    assert {app for app, _, _ in MODULES} == set(LAYERS)


@pytest.mark.parametrize(("app", "module", "path"), MODULES, ids=[m for _, m, _ in MODULES])
def test_no_module_imports_from_a_layer_above_its_own(app, module, path):
    above = {other for other in _imported_apps(path) if LAYERS[other] > LAYERS[app]}
    assert not above, f"{module} imports from {sorted(above)}, a layer above {app}"
