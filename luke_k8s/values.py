"""Kubernetes' rules for names, label values and resource quantities, checked here so that a
bad value fails when the job is built, with a message naming the option, rather than as an
API server rejection halfway through a pipeline run."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

from luke_core.errors import LukeError

MAX_NAME = 63
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

_QUANTITY = re.compile(
    r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][-+]?[0-9]+)?$"
)
_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{
        unit: Decimal(1024) ** (i + 1)
        for i, unit in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))
    },
}


def quantity(value: str, what: str) -> Decimal:
    """The amount a Kubernetes quantity (`500m`, `16Gi`, `1e3`) stands for."""
    match = _QUANTITY.match(value)
    if not match:
        raise LukeError(f"{what}: {value!r} is not a Kubernetes quantity, as in 8, 500m or 16Gi")
    number, suffix = Decimal(match.group(1)), match.group(2) or ""
    scale = _SUFFIX[suffix] if suffix in _SUFFIX else Decimal(f"1{suffix}")
    return number * scale


def check_label_key(key: str, what: str) -> None:
    """`[prefix/]name`: a DNS subdomain prefix of at most 253 characters, a name of at most 63."""
    prefix, _, name = key.rpartition("/")
    if (
        len(name) > MAX_NAME
        or not LABEL_NAME.match(name)
        or (prefix and (len(prefix) > 253 or not DNS_1123_SUBDOMAIN.match(prefix)))
    ):
        raise LukeError(f"{what}: {key!r} is not a valid label key")


def check_label_value(value: str, what: str) -> None:
    if len(value) > MAX_NAME or not LABEL_VALUE.match(value):
        raise LukeError(f"{what}: {value!r} is not a valid label value")


def check_name(value: str, what: str, pattern: re.Pattern[str] = DNS_1123_SUBDOMAIN) -> None:
    limit = 253 if pattern is DNS_1123_SUBDOMAIN else MAX_NAME
    if len(value) > limit or not pattern.match(value):
        raise LukeError(f"{what}: {value!r} is not a valid Kubernetes name")


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def label_value(text: str) -> str:
    """`text` if it is a valid label value; else a valid one made from it: other characters
    become `-`, the head is kept and a hash of the whole text appended (so two texts that
    clean up alike still get different values)."""
    if len(text) <= MAX_NAME and LABEL_VALUE.match(text):
        return text
    head = re.sub(r"[^-A-Za-z0-9_.]", "-", text)[: MAX_NAME - 9]
    head = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", head)
    return f"{head}-{short_hash(text)}" if head else short_hash(text)


def dns_label_part(text: str, max_length: int) -> str:
    """A fragment usable inside a DNS-1035 name: lowercase alphanumerics and single dashes."""
    part = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return part[:max_length].rstrip("-")
