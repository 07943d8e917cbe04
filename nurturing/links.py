"""The links a campaign e-mail carries: open pixel, tracked clicks, unsubscribe, preferences.

Open, unsubscribe and preference links carry the message's random token (a UUID nobody can
guess). A click link carries the destination *signed* with the site's secret key: LeadApp
redirects only to an address it wrote into an e-mail itself, so it is never an open redirect.
"""

import functools

from django.conf import settings
from django.core import signing
from django.urls import reverse

_CLICK_SALT = "nurturing.click"


def absolute(path: str) -> str:
    return settings.LEADAPP_BASE_URL.rstrip("/") + path


_SAMPLE = "00000000-0000-0000-0000-000000000000"


@functools.cache
def _pattern(name: str) -> tuple[str, str]:
    # Every message has four links: reverse() once per URL name, not once per link.
    head, _, tail = reverse(name, args=[_SAMPLE]).partition(_SAMPLE)
    return head, tail


def _url(name: str, value) -> str:
    head, tail = _pattern(name)
    return absolute(f"{head}{value}{tail}")


def open_url(token) -> str:
    return _url("nurturing_public:open", token)


def unsubscribe_url(token) -> str:
    return _url("nurturing_public:unsubscribe", token)


def preferences_url(token) -> str:
    return _url("nurturing_public:preferences", token)


def click_url(token, url: str) -> str:
    return _url("nurturing_public:click", signing.dumps([str(token), url], salt=_CLICK_SALT, compress=True))


def read_click(signed: str) -> tuple[str, str]:
    """(message token, destination) of a click link; ``signing.BadSignature`` if forged."""
    token, url = signing.loads(signed, salt=_CLICK_SALT)
    return str(token), str(url)
