"""Times in the user's time zone: which zone a request uses, and the one way times are written.

The zone is the user's choice (User.time_zone), else the browser's (the `pc_tz` cookie that
static/js/timezone.js writes), else settings.TIME_ZONE. Every date and time a person reads goes
through `local_datetime` or `local_date` (the templates through the filters of the same names),
so each language has one format, and a time always names its zone. What machines read (the
`datetime` attribute of <time>, the CSV export, the API) stays ISO 8601 and UTC.
"""

import zoneinfo
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy

from partnercenter.errors import DomainError

if TYPE_CHECKING:  # models.py imports this module, for the field's validator
    from partnercenter.models import User

COOKIE = "pc_tz"
CHOSEN, BROWSER, DEFAULT = "chosen", "browser", "default"
# In the system's list but no place's zone: the server's own setting, and "no zone set yet".
_NOT_PLACES = {"localtime", "Factory"}
NOT_A_ZONE = gettext_lazy("Enter a time zone by its IANA name, such as Europe/Budapest.")


@cache
def zone_names() -> frozenset[str]:
    """Every IANA zone name a user may have (read from the system once: it walks the files)."""
    return frozenset(zoneinfo.available_timezones() - _NOT_PLACES)


def validate_zone_name(value: str) -> None:
    if value not in zone_names():
        raise ValidationError(NOT_A_ZONE, code="invalid_time_zone")


def zone_of(request) -> tuple[str, str]:
    """The zone name a request's times are shown in, and where it comes from: CHOSEN by the
    user, the BROWSER's (a cookie anyone can forge: used only when it names a zone), or the
    site's DEFAULT."""
    chosen = getattr(getattr(request, "user", None), "time_zone", "")
    if chosen in zone_names():
        return chosen, CHOSEN
    browser = request.COOKIES.get(COOKIE, "")
    if browser in zone_names():
        return browser, BROWSER
    return timezone.get_default_timezone_name(), DEFAULT


class TimeZoneMiddleware:
    """After authentication: the request runs in the zone `zone_of` picks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name, _source = zone_of(request)
        with timezone.override(zoneinfo.ZoneInfo(name)):
            return self.get_response(request)


def zone_label(moment: datetime) -> str:
    """The offset from UTC of an aware moment, as Windows and most calendars name it:
    "UTC", "UTC+01:00", "UTC-03:30" (short, the same in every language, right in summer too)."""
    offset = moment.utcoffset() or timedelta(0)
    if not offset:
        return "UTC"
    minutes = abs(offset) // timedelta(minutes=1)
    sign = "-" if offset < timedelta(0) else "+"
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def local_datetime(value: datetime) -> str:
    """A moment in the active zone, in the language's DATETIME_FORMAT, its zone named:
    "Nov. 21, 2026, 7:17 p.m. UTC+01:00", "2026年11月21日 19:17 UTC+01:00"."""
    local = timezone.localtime(value)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {zone_label(local)}"


def local_date(value: datetime) -> str:
    """The day of a moment in the active zone, in the language's DATE_FORMAT."""
    return formats.date_format(timezone.localtime(value), "DATE_FORMAT")


AUTOMATIC = ""  # the user's choice of no zone: the browser's, else the site's


def zone_choices(current: str) -> list:
    """The zones for a select: Automatic (no choice), UTC, then the "Area/Place" names grouped
    by area, each shown by its place; `current` too when it is one of the old names left out
    (Cuba, EST5EDT)."""
    top = [(AUTOMATIC, gettext_lazy("Automatic: your browser’s time zone")), ("UTC", "UTC")]
    if current in zone_names() and current != "UTC" and "/" not in current:
        top.append((current, current))
    return [*top, *_places_by_area()]


@cache
def _places_by_area() -> tuple:
    groups: dict[str, list] = {}
    for name in sorted(zone_names()):
        area, slash, place = name.partition("/")
        if slash:
            groups.setdefault(area, []).append((name, place.replace("_", " ")))
    return tuple(groups.items())


def user_time_zone_set(*, user: "User", time_zone: str) -> None:
    """Show `user` every time in `time_zone` (an IANA name; AUTOMATIC: the browser's) from now
    on."""
    if time_zone != AUTOMATIC and time_zone not in zone_names():
        raise DomainError(str(NOT_A_ZONE), field="time_zone")
    user.time_zone = time_zone
    user.save(update_fields=["time_zone"])
