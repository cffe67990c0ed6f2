"""Where a webhook may be sent: an https URL whose host resolves only to public addresses.

Private, loopback, link-local and reserved addresses are refused (no request forgery against
the network the server runs in) unless `WEBHOOKS_ALLOW_PRIVATE` is on (development, tests),
which also allows plain http. The address checked is the address connected to, so a name that
resolves differently a moment later (DNS rebinding) gains nothing.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A unicast address on the public internet, and so is any IPv4 address an IPv6 one
    carries (mapped, 6to4, Teredo, NAT64)."""
    if not address.is_global or address.is_multicast:
        return False
    if address.version == 6:
        carried = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
        if address in _NAT64:
            carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        return all(_public(v4) for v4 in carried if v4 is not None)
    return True


class RefusedDestination(Exception):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    target: str  # path and query
    address: str  # the IP address checked, and connected to


def destination(url: str) -> Destination:
    """The URL's checked destination, or RefusedDestination."""
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedDestination(_("This is not a valid URL.")) from None
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise RefusedDestination(_("A webhook URL must start with https://."))
    if not parts.hostname or parts.username or parts.password:
        raise RefusedDestination(_("A webhook URL needs a host name and no user name."))
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise RefusedDestination(
            _("The host %(host)s could not be found.") % {"host": parts.hostname}
        ) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
    if not allow_private and not all(map(_public, addresses)):
        raise RefusedDestination(
            _(
                "%(host)s resolves to a private, loopback or link-local address; webhooks "
                "go only to addresses on the public internet."
            )
            % {"host": parts.hostname}
        )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, parts.hostname, port, target, str(addresses[0]))
