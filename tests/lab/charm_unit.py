"""An Octavia unit on a unit root (``tests.unit_root``): the machine as the Ubuntu packages
(octavia-api, octavia-worker, apache2, libapache2-mod-wsgi-py3) leave it, the charm's rendered
files placed as its ``Machine`` writes them, and octavia-api under apache2 and octavia-worker
run from there.

The Ubuntu packages are not installed here; each of their parts the unit needs is a named
stand-in (see ``install_octavia_packages``):

- the ``octavia`` user and group, as octavia-common's maintainer script adds them;
- ``/usr/bin/octavia-wsgi``, ``octavia-db-manage`` and ``octavia-worker``: the lab venv's;
- Octavia importable by Debian's Python 3.11 (python3-octavia installs it in dist-packages):
  a ``.pth`` file that adds the lab venv's site-packages;
- mod_wsgi's module links in ``mods-enabled``, as its maintainer script's ``a2enmod`` makes.

Every process runs in the unit root's mount namespace, in whatever network namespace the
caller is in (the site listens on 9876 on all interfaces: the caller brings a private one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from charmed_octavia.unit.machine import OCTAVIA_CONF

from tests.unit_root import UnitRoot

# oslo.config reads the files of /etc/octavia/octavia.conf.d after octavia.conf when a
# program names no config file, as octavia-wsgi under mod_wsgi does.
OVERLAY_CONF = "/etc/octavia/octavia.conf.d/lab-noop.conf"
APACHE_LOGS = "/var/log/apache2"
# Debian's mod_wsgi embeds this interpreter; its site-packages dirs are searched in order,
# /usr/local's before /usr/lib/python3's, whose older Debian packages must not shadow the
# venv's.
SYSTEM_PYTHON = "/usr/bin/python3.11"
SITE_DIR = "/usr/local/lib/python3.11/dist-packages"
MOD_WSGI = "/usr/lib/apache2/modules/mod_wsgi.so"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class UnitFile:
    """A file as the charm wrote it: content, mode, owner and group names."""

    content: bytes
    mode: int
    owner: str = "root"
    group: str = "root"


def missing_host_tools() -> str | None:
    """What this machine lacks to run the unit's apache2 with mod_wsgi; None when nothing."""
    wanted = {
        "apache2": "/usr/sbin/apache2ctl",
        "libapache2-mod-wsgi-py3": MOD_WSGI,
        "python3.11 (mod_wsgi's interpreter)": SYSTEM_PYTHON,
        "util-linux (setpriv)": "/usr/bin/setpriv",
        "util-linux (nsenter)": "/usr/bin/nsenter",
    }
    missing = [name for name, path in wanted.items() if not Path(path).exists()]
    return ", ".join(missing) + " missing" if missing else None


def _free_id(taken: set[int]) -> int:
    return next(i for i in range(999, 100, -1) if i not in taken)


def _ids(text: str) -> set[int]:
    return {int(line.split(":")[2]) for line in text.splitlines() if line.count(":") >= 3}


class OctaviaUnit:
    """See the module docstring. ``venv`` is the lab venv's root."""

    def __init__(self, base: Path, venv: Path) -> None:
        self.root = UnitRoot(base)
        self.venv = venv
        self.uid = self.gid = 0
        # The unit's accounts by name, as its /etc/passwd and /etc/group have them.
        self._users: dict[str, int] = {"root": 0}
        self._groups: dict[str, int] = {"root": 0}

    # -- the packages' parts (stand-ins) ---------------------------------------------------

    def install_octavia_packages(self) -> None:
        """What the Ubuntu packages would leave on the unit, as the stand-ins named above."""
        self._add_octavia_user()
        bin_dir = self.venv / "bin"
        # PACKAGE STAND-IN (octavia-api): pbr writes the same octavia-wsgi for the package.
        self.root.put("/usr/bin/octavia-wsgi", (bin_dir / "octavia-wsgi").read_bytes(), 0o755)
        # PACKAGE STAND-IN (octavia-common, octavia-worker): the programs the charm and the
        # worker's systemd unit run.
        for program in ("octavia-db-manage", "octavia-worker"):
            self.root.link(f"/usr/bin/{program}", str(bin_dir / program))
        # PACKAGE STAND-IN (python3-octavia): Octavia and its dependencies importable by
        # Debian's Python; addsitedir (not a bare path) also runs the venv's own .pth files,
        # which its namespace packages (WSME, Paste) need.
        site = self._site_packages()
        self.root.put(
            f"{SITE_DIR}/lab-octavia.pth", f"import site; site.addsitedir({str(site)!r})\n"
        )
        # PACKAGE STAND-IN (libapache2-mod-wsgi-py3): its maintainer script enables the module.
        for name in ("wsgi.load", "wsgi.conf"):
            self.root.link(f"/etc/apache2/mods-enabled/{name}", f"../mods-available/{name}")
        self._let_octavia_traverse([site, self._base_python()])

    def _add_octavia_user(self) -> None:
        # PACKAGE STAND-IN (octavia-common): its maintainer script adds the system user and
        # group octavia; here with ids no account of this machine has.
        passwd = Path("/etc/passwd").read_text()
        group = Path("/etc/group").read_text()
        self.uid = _free_id(_ids(passwd))
        self.gid = _free_id(_ids(group))
        self._users["octavia"], self._groups["octavia"] = self.uid, self.gid
        line = f"octavia:x:{self.uid}:{self.gid}::/var/lib/octavia:/usr/sbin/nologin\n"
        self.root.put("/etc/passwd", passwd.rstrip("\n") + "\n" + line)
        self.root.put("/etc/group", group.rstrip("\n") + f"\noctavia:x:{self.gid}:\n")
        home = self.root.path("/var/lib/octavia")
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, self.uid, self.gid)

    def _site_packages(self) -> Path:
        found = sorted(self.venv.glob("lib/python3*/site-packages"))
        if not found:
            raise RuntimeError(f"no site-packages in {self.venv}")
        return found[0]

    def _base_python(self) -> Path:
        """The prefix of the interpreter the venv was made from (its stdlib)."""
        real = (self.venv / "bin" / "python").resolve()
        return real.parent.parent

    def _let_octavia_traverse(self, paths: list[Path]) -> None:
        """Give "others" search permission on the directories down to each of ``paths`` that
        lack it (root's home is 0700 here), in the unit root's upper layer only: the services
        run as the octavia user there, as on a unit, and import from these trees. The upper
        layer's copy of a directory sets its mode, so every directory on the way is copied
        with this machine's mode and owner."""
        for path in paths:
            chain = [d for d in reversed([path, *path.parents]) if d != d.parent]
            closed = [d for d in chain if not d.stat().st_mode & stat.S_IXOTH]
            if not closed:
                continue
            for directory in chain[: chain.index(closed[-1]) + 1]:
                host = directory.stat()
                upper = self.root.path(str(directory))
                upper.mkdir(exist_ok=True)
                os.chmod(upper, stat.S_IMODE(host.st_mode) | stat.S_IXOTH)
                os.chown(upper, host.st_uid, host.st_gid)

    # -- the charm's files -----------------------------------------------------------------

    def place(self, files: Mapping[str, UnitFile], links: Mapping[str, str]) -> None:
        """The charm's files with their mode and ownership, and its symlinks."""
        for path, file in files.items():
            target = self.root.put(path, file.content, file.mode)
            os.chown(target, self._users[file.owner], self._groups[file.group])
        for path, points_to in links.items():
            self.root.link(path, points_to)

    def overlay(self, sections: Mapping[str, Mapping[str, str]], path: str = OVERLAY_CONF) -> None:
        """A file layered on the charm's octavia.conf (what cannot run here): by default the
        one every Octavia program reads; at another ``path``, one a worker is started with."""
        text = "".join(
            f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()) + "\n"
            for name, values in sections.items()
        )
        target = self.root.put(path, text, 0o640)
        os.chown(target, 0, self.gid)

    # -- programs --------------------------------------------------------------------------

    def mounted(self) -> contextlib.AbstractContextManager[None]:
        """The unit's file system mounted once for every program until the exit: the
        services and the commands beside them run at once (``UnitRoot.session``)."""
        return self.root.session()

    def run(self, argv: list[str], *, as_octavia: bool = False) -> subprocess.CompletedProcess:
        """Run a command to completion on the unit (not checked: the caller reads it)."""
        return self.root.run(self._as(argv, as_octavia), env=self._env(), check=False)

    def start_apache(self, log: Path) -> subprocess.Popen:
        """apache2 in the foreground as its systemd unit starts it (apache2ctl reads envvars
        and makes the run and lock directories)."""
        return self._spawn(["/usr/sbin/apache2ctl", "-DFOREGROUND"], log)

    def start_worker(self, log: Path, extra: tuple[str, ...] = ()) -> subprocess.Popen:
        """octavia-worker as its systemd unit runs it (the octavia user, the charm's file),
        with the lab's overlay as a second config file (and the ``extra`` overlays after)."""
        argv = ["/usr/bin/octavia-worker", "--config-file", OCTAVIA_CONF]
        for conf in (OVERLAY_CONF, *extra):
            argv += ["--config-file", conf]
        return self._spawn(self._as(argv, True), log)

    def _spawn(self, argv: list[str], log: Path) -> subprocess.Popen:
        """A server on the unit, leading its own process group (the caller stops it)."""
        with open(log, "ab") as out:
            return self.root.popen(
                argv,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def _as(self, argv: list[str], as_octavia: bool) -> list[str]:
        if not as_octavia:
            return argv
        return ["/usr/bin/setpriv", "--reuid=octavia", "--regid=octavia", "--init-groups", *argv]

    def _env(self) -> dict[str, str]:
        return {"PATH": _PATH, "LANG": "C.UTF-8", "HOME": "/var/lib/octavia"}

    def read(self, inside: str) -> str:
        """A file the unit wrote (a log), "" when absent."""
        path = self.root.path(inside)
        return path.read_text(errors="replace") if path.exists() else ""

    def remove(self) -> None:
        shutil.rmtree(self.root.base, ignore_errors=True)
