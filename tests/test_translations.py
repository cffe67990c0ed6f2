"""The catalogs: complete, compiled, in step with the code, placeholders intact."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ["de", "nl", "hu", "ru", "zh_Hant"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def catalog(language: str, kind: str = "po"):
    path = ROOT / "locale" / language / "LC_MESSAGES" / f"django.{kind}"
    return polib.pofile(str(path)) if kind == "po" else polib.mofile(str(path))


def _translations(entries) -> dict:
    result = {}
    for entry in entries:
        if entry.obsolete or not entry.msgid:
            continue
        value = tuple(sorted(entry.msgstr_plural.items())) if entry.msgid_plural else entry.msgstr
        result[entry.msgctxt, entry.msgid] = value
    return result


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated_and_none_is_fuzzy(language):
    po = catalog(language)
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    assert not po.metadata_is_fuzzy
    for entry in po:
        if entry.msgid_plural:
            assert all(entry.msgstr_plural.values()), entry.msgid


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language):
    for entry in catalog(language):
        wanted = set(PLACEHOLDER.findall(entry.msgid + entry.msgid_plural))
        texts = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for text in texts:
            found = set(PLACEHOLDER.findall(text))
            # A singular form may say "one" instead of the count; nothing else may go missing.
            assert found <= wanted, (entry.msgid, text)
            assert wanted - found <= {"%(counter)s", "%(shown)s", "%(count)s"}, (entry.msgid, text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_matches_its_source(language):
    assert _translations(catalog(language, "mo")) == _translations(catalog(language))


def test_the_catalogs_are_in_step_with_the_code(tmp_path):
    if shutil.which("xgettext") is None:
        message = "GNU gettext is not installed (apt-get install gettext)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    apps = (
        "partnercenter",
        "events",
        "relationships",
        "customers",
        "dashboard",
        "demo",
        "api",
        "notifications",
    )
    for name in ("manage.py", *apps, "templates", "locale"):
        source = ROOT / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, tmp_path / name)
    env = {**os.environ, "DJANGO_DEBUG": "1"}
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "de",
            "--no-obsolete",
            "--no-location",
            "--no-wrap",
        ],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    fresh = polib.pofile(str(tmp_path / "locale/de/LC_MESSAGES/django.po"))
    committed = catalog("de")
    fresh_ids = {(e.msgctxt, e.msgid) for e in fresh if e.msgid}
    committed_ids = {(e.msgctxt, e.msgid) for e in committed if e.msgid and not e.obsolete}
    assert fresh_ids - committed_ids == set(), "new strings: run `make messages` and translate"
    assert committed_ids - fresh_ids == set(), "stale strings: run `make messages`"
