"""A throwaway PostgreSQL server for the fleet tests and benchmark: Debian's ``initdb`` and ``pg_ctl``.

  with TemporaryPostgres() as server:
      url = server.create_database("kiosks")   # postgresql://kiosk@127.0.0.1:PORT/kiosks
      ...                                      # the kiosk role's password: server.password
      server.stop(); server.start()            # an outage, same port and data

The data directory is a new temporary folder, the server listens on a free port of 127.0.0.1 only
(and a Unix socket inside that folder), and every TCP login needs a password (scram-sha-256).
Run as root, the server runs as the ``postgres`` user, which owns the folder. Leaving the
``with`` block stops it and deletes the folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from tools.loopback_smtp import free_port

HOST = "127.0.0.1"
SUPERUSER = "postgres"
KIOSK_ROLE = "kiosk"


def postgres_bin_dir() -> Optional[Path]:
    """The folder holding initdb and pg_ctl (the newest /usr/lib/postgresql/N/bin, else PATH); None without them."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                        if Path(p).parent.name.isdigit() else 0, reverse=True)
    for folder in candidates:
        if all(os.access(Path(folder) / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


class TemporaryPostgres:
    """One PostgreSQL server in a temporary data directory; ``start``/``stop``/``kill`` for outages."""

    def __init__(self, settings: Sequence[str] = ()) -> None:
        """``settings``: extra server settings, e.g. ("max_connections=200",)."""
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL's initdb and pg_ctl are not installed (Debian: apt-get install postgresql)")
        self.bin_dir = bin_dir
        self.settings = list(settings)
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)  # the kiosk role's and the superuser's
        self.folder = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self._as_postgres = os.geteuid() == 0  # the server refuses to run as root
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._initdb()

    # --- lifecycle -----------------------------------------------------------------------

    def _tool(self, name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / name), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed ({result.returncode}): {(result.stderr or result.stdout).strip()}"
                               f"{self._log_tail()}")
        return result

    def _log_tail(self) -> str:
        try:
            return "; server log: " + " | ".join(self.log.read_text().splitlines()[-5:])
        except OSError:
            return ""

    def _initdb(self) -> None:
        pwfile = self.folder / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_postgres:
            shutil.chown(pwfile, "postgres")
        try:
            self._tool("initdb", "-D", str(self.data), "-U", SUPERUSER, "--pwfile", str(pwfile), "-E", "UTF8",
                       "--locale", "C", "--auth-local", "trust", "--auth-host", "scram-sha-256")
        finally:
            pwfile.unlink()

    def start(self) -> None:
        options = [f"-p {self.port}", f"-c listen_addresses={HOST}", f"-c unix_socket_directories={self.folder}"]
        options += [f"-c {setting}" for setting in self.settings]
        self._tool("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", " ".join(options),
                   "start", timeout=90)

    def stop(self) -> None:
        """A clean shutdown (clients are disconnected)."""
        self._tool("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=90)

    def kill(self) -> None:
        """Stop the way a power cut would: no checkpoint, recovery at the next start."""
        self._tool("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=90)

    def running(self) -> bool:
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0

    def close(self) -> None:
        try:
            if self.running():
                self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "TemporaryPostgres":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- databases -----------------------------------------------------------------------

    def admin_conninfo(self, dbname: str = "postgres") -> str:
        return f"host={HOST} port={self.port} dbname={dbname} user={SUPERUSER} password={self.password}"

    def create_database(self, name: str) -> str:
        """A new database owned by the ``kiosk`` role (made on first use, with ``password``); its URL, without password."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_conninfo(), autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (KIOSK_ROLE,)).fetchone():
                admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(KIOSK_ROLE), sql.Literal(self.password)))
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name),
                                                                     sql.Identifier(KIOSK_ROLE)))
        return f"postgresql://{KIOSK_ROLE}@{HOST}:{self.port}/{name}"
