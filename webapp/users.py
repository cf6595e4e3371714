"""The users of hosted mode: a file of ``user -> {team, password_hash}`` and ``python -m webapp users ...``.

The file (``USERS_FILE``) is JSON, or TOML when its name ends in ``.toml``::

    {"alice": {"team": "marketing", "password_hash": "scrypt:32768:8:1$..."}}

    ["alice"]
    team = "marketing"
    password_hash = "scrypt:32768:8:1$..."

Passwords are stored only as werkzeug hashes (scrypt). Each user belongs to exactly one team. The admin command
writes the file atomically (a temporary file in the same folder, renamed over the old one) with mode 0600, under
a lock, so web processes never read half a file and two admins never lose each other's change::

    python -m webapp users add alice --team marketing        # asks for the password twice
    echo "$PASSWORD" | python -m webapp users add alice --team marketing --password-stdin
    python -m webapp users add alice --team sales --replace  # new team and password
    python -m webapp users list
    python -m webapp users remove alice

``--file PATH`` names the file; the default is ``$USERS_FILE``. Web processes read the file again whenever it
changes (no restart needed); removing a user, or changing their password or team, ends their sessions.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import getpass
import json
import logging
import os
import re
import sys
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import generate_password_hash

log = logging.getLogger("webapp.users")

USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
TEAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
HASH_METHODS = ("scrypt:", "pbkdf2:")
MIN_PASSWORD = 8
HASH_METHOD = "scrypt"


class UsersFileError(ValueError):
    """The users file (or a name or password given to the admin command) is not acceptable; the message says
    why."""


@dataclass(frozen=True)
class UserRecord:
    name: str
    team: str
    password_hash: str


# ---- reading -------------------------------------------------------------------------------------------------

def parse_users(text: str, *, toml: bool = False, source: str = "users file") -> dict[str, UserRecord]:
    """The users of a file's text; :class:`UsersFileError` naming the problem."""
    try:
        raw = tomllib.loads(text) if toml else json.loads(text or "{}")
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise UsersFileError(f"{source} is not valid {'TOML' if toml else 'JSON'}: {exc}") from exc
    if not isinstance(raw, dict):
        raise UsersFileError(f"{source} must map user names to {{team, password_hash}}.")
    users = {}
    for name, entry in raw.items():
        if not USER_NAME.fullmatch(str(name)):
            raise UsersFileError(f"{source}: '{name}' is not a valid user name (letters, digits, . _ @ -).")
        if not isinstance(entry, dict):
            raise UsersFileError(f"{source}: user '{name}' must have a team and a password_hash.")
        team, password_hash = entry.get("team"), entry.get("password_hash")
        if not isinstance(team, str) or not TEAM_NAME.fullmatch(team):
            raise UsersFileError(f"{source}: user '{name}' has no valid team (letters, digits, . _ -).")
        if not isinstance(password_hash, str) or not password_hash.startswith(HASH_METHODS):
            raise UsersFileError(f"{source}: user '{name}' has no password hash (scrypt or pbkdf2); set one with "
                                 f"`python -m webapp users add {name} --team {team} --replace`.")
        users[name] = UserRecord(name, team, password_hash)
    return users


def is_toml(path: Path) -> bool:
    return Path(path).suffix.lower() == ".toml"


def read_users(path: str | Path) -> dict[str, UserRecord]:
    """The users in ``path``; a missing file has none."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsersFileError(f"Cannot read the users file {path}: {exc.strerror or exc}") from exc
    return parse_users(text, toml=is_toml(path), source=f"The users file {path}")


class UserStore:
    """The users file as the web app sees it: read again whenever the file changes (checked with one ``stat``
    per lookup), so every web process sees an added or removed user at once. A missing or broken file has no
    users (nobody can sign in; the log says why)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._users: dict[str, UserRecord] = {}

    def _current(self) -> dict[str, UserRecord]:
        try:
            st = self.path.stat()
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = ("missing",)
        except OSError as exc:
            stamp = ("error", str(exc))
        if stamp == self._stamp:
            return self._users
        with self._lock:
            if stamp != self._stamp:
                try:
                    users = read_users(self.path)
                    if not users:
                        log.warning("no users in %s: nobody can sign in (add one with `python -m webapp users "
                                    "add NAME --team TEAM`)", self.path)
                except UsersFileError as exc:
                    log.error("%s; nobody can sign in until it is fixed", exc)
                    users = {}
                self._users, self._stamp = users, stamp
        return self._users

    def get(self, name: str) -> UserRecord | None:
        return self._current().get(name)

    def __len__(self) -> int:
        return len(self._current())


# ---- writing -------------------------------------------------------------------------------------------------

def render_users(users: dict[str, UserRecord], *, toml: bool = False) -> str:
    ordered = sorted(users.values(), key=lambda u: u.name)
    if not toml:
        body = {u.name: {"team": u.team, "password_hash": u.password_hash} for u in ordered}
        return json.dumps(body, indent=2) + "\n"
    # JSON string literals (ASCII, escaped) are valid TOML basic strings.
    blocks = [f"[{json.dumps(u.name)}]\nteam = {json.dumps(u.team)}\npassword_hash = {json.dumps(u.password_hash)}\n"
              for u in ordered]
    return "\n".join(blocks)


def write_users(path: str | Path, users: dict[str, UserRecord]) -> None:
    """Replace the file atomically with mode 0600 (a temporary file in the same folder, fsynced, renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render_users(users, toml=is_toml(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def locked(path: str | Path):
    """An exclusive lock for a read-modify-write of the users file (``<file>.lock`` beside it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def check_names(user: str, team: str | None = None) -> None:
    if not USER_NAME.fullmatch(user or ""):
        raise UsersFileError(f"'{user}' is not a valid user name: 1-64 letters, digits, '.', '_', '@' or '-', "
                             "starting with a letter or digit.")
    if team is not None and not TEAM_NAME.fullmatch(team or ""):
        raise UsersFileError(f"'{team}' is not a valid team name: 1-64 letters, digits, '.', '_' or '-', starting "
                             "with a letter or digit.")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsersFileError(f"The password must have at least {MIN_PASSWORD} characters.")
    if password != password.strip():
        raise UsersFileError("The password must not start or end with white space.")


def add_user(path: str | Path, user: str, team: str, password: str, *, replace: bool = False) -> UserRecord:
    """Add ``user`` of ``team`` (or, with ``replace``, give an existing user a new team and password)."""
    check_names(user, team)
    check_password(password)
    record = UserRecord(user, team, generate_password_hash(password, method=HASH_METHOD))
    with locked(path):
        users = read_users(path)
        if user in users and not replace:
            raise UsersFileError(f"User '{user}' already exists (team {users[user].team}); use --replace to give "
                                 "them a new team and password.")
        users[user] = record
        write_users(path, users)
    return record


def remove_user(path: str | Path, user: str) -> UserRecord:
    with locked(path):
        users = read_users(path)
        if user not in users:
            raise UsersFileError(f"There is no user '{user}' in {path}.")
        record = users.pop(user)
        write_users(path, users)
    return record


# ---- the admin command ---------------------------------------------------------------------------------------

def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise UsersFileError("No terminal to ask for the password: pass it on standard input with --password-stdin.")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise UsersFileError("The two passwords differ.")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webapp users",
                                     description="Manage the users and teams of hosted mode (USERS_FILE).")
    parser.add_argument("--file", default=None, help="the users file (default: $USERS_FILE)")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a user (asks for the password, or reads it with --password-stdin)")
    add.add_argument("user")
    add.add_argument("--team", required=True, help="the user's team: they see only this team's data")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.add_argument("--replace", action="store_true", help="give an existing user a new team and password")
    sub.add_parser("list", help="list users and their teams")
    remove = sub.add_parser("remove", help="remove a user (their sessions end)")
    remove.add_argument("user")
    args = parser.parse_args(argv)

    path = args.file or os.environ.get("USERS_FILE", "").strip()
    if not path:
        print("error: no users file: pass --file PATH or set USERS_FILE", file=sys.stderr)
        return 2
    try:
        if args.command == "add":
            check_names(args.user, args.team)
            record = add_user(path, args.user, args.team, _read_password(args.password_stdin), replace=args.replace)
            print(f"Saved user {record.name} (team {record.team}) in {path}.")
        elif args.command == "list":
            users = read_users(path)
            if not users:
                print(f"No users in {path}.")
            for record in sorted(users.values(), key=lambda u: (u.team, u.name)):
                print(f"{record.name}\t{record.team}")
        else:
            record = remove_user(path, args.user)
            print(f"Removed user {record.name} (team {record.team}) from {path}.")
    except UsersFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
