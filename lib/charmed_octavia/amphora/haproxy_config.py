"""The few haproxy.cfg settings that decide a haproxy generation's memory."""

from __future__ import annotations

import dataclasses
import re

_SECTION = re.compile(
    r"^(global|defaults|frontend|backend|listen|peers|resolvers|userlist|"
    r"program|mailers|http-errors|ring|cache)\b"
)


@dataclasses.dataclass(frozen=True)
class HaproxyMemorySettings:
    """``tune.ssl.cachesize`` (entries) and ``maxconn`` of the ``global`` section.

    ``None`` means the setting is absent: haproxy then uses its defaults (20000 entries;
    maxconn derived from the open-files limit).
    """

    path: str
    ssl_cachesize: int | None
    maxconn: int | None
    terminated_https: bool

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


class HaproxyConfigError(ValueError):
    """A haproxy.cfg whose memory settings cannot be read."""


def parse(text: str, path: str = "haproxy.cfg") -> HaproxyMemorySettings:
    """Read the global ``tune.ssl.cachesize`` and ``maxconn`` of one haproxy.cfg."""
    section = None
    cachesize: int | None = None
    maxconn: int | None = None
    tls_bind = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _SECTION.match(line)
        if match:
            section = match.group(1)
            continue
        words = line.split()
        if words[0] == "bind" and "ssl" in words[2:]:
            tls_bind = True
        if section != "global" or len(words) < 2:
            continue
        if words[0] in ("tune.ssl.cachesize", "maxconn"):
            try:
                value = int(words[1])
            except ValueError:
                raise HaproxyConfigError(
                    f"{path}:{number}: {words[0]} is not an integer: {words[1]!r}"
                ) from None
            if value < 0:
                raise HaproxyConfigError(f"{path}:{number}: {words[0]} is negative")
            if words[0] == "maxconn":
                maxconn = value
            else:
                cachesize = value
    return HaproxyMemorySettings(
        path=path, ssl_cachesize=cachesize, maxconn=maxconn, terminated_https=tls_bind
    )
