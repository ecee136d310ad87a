"""Kubernetes names: the syntax the API server enforces, and Compose names made to fit it.

Compose allows service names such as ``web_1`` or ``API.v2``; Kubernetes wants DNS
labels (``web-1``, ``api-v2``). :func:`dns_label` makes the one into the other and
says whether it had to change anything, so the explanation can say so.
"""

from __future__ import annotations

import re

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
# a label's name part, and its value (empty allowed)
LABEL_NAME = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)\Z")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+\Z")
IANA_SVC_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")

MAX_LABEL = 63
MAX_SUBDOMAIN = 253


def is_dns_label(name: str) -> bool:
    return len(name) <= MAX_LABEL and DNS1123_LABEL.match(name) is not None


def is_dns1035_label(name: str) -> bool:
    return len(name) <= MAX_LABEL and DNS1035_LABEL.match(name) is not None


def is_subdomain(name: str) -> bool:
    return len(name) <= MAX_SUBDOMAIN and DNS1123_SUBDOMAIN.match(name) is not None


def is_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and not is_subdomain(prefix):
        return False
    return 0 < len(name) <= MAX_LABEL and LABEL_NAME.match(name) is not None


def is_label_value(value: str) -> bool:
    return len(value) <= MAX_LABEL and LABEL_VALUE.match(value) is not None


def is_port_name(name: str) -> bool:
    """IANA_SVC_NAME: at most 15 characters, a letter among them, no ``--``."""
    return (
        0 < len(name) <= 15
        and IANA_SVC_NAME.match(name) is not None
        and "--" not in name
        and any(c.isalpha() for c in name)
    )


def dns_label(name: str, *, letter_first: bool = True) -> str:
    """``name`` as a DNS label: lower case, ``[a-z0-9-]``, starting with a letter when
    ``letter_first`` (Services need RFC 1035 labels), at most 63 characters."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    label = re.sub(r"-{2,}", "-", label)
    if not label:
        label = "x"
    if letter_first and not label[0].isalpha():
        label = "s-" + label
    return label[:MAX_LABEL].rstrip("-")
