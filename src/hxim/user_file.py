"""A file of users for `hxim user import`: read and checked whole, then registered in batches.

One user a line, `username password` (a space or a tab between them; the password is the rest
of the line, without the blanks around it); blank lines and
lines starting with `#` are skipped. Every line is checked before anything is registered, with
the same rules as REST registration (`UserService.username_problem`, `password_problem`), and a
username given twice is refused on its second line. Users already registered are left as they
are, so running the import again resumes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hxim.model import App
from hxim.services.users import UserService

__all__ = ["UserFile", "read_user_file", "import_users"]


@dataclass
class UserFile:
    """The good lines of a file, as (username, password), and the bad ones as `line N: why`."""

    good: list[tuple[str, str]] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


def read_user_file(path: Path, users: UserService) -> UserFile:
    """Read and check every line of `path` (raises OSError when it cannot be read)."""
    out = UserFile()
    first_seen: dict[str, int] = {}
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                out.bad.append(f"line {number}: not UTF-8 text")
                continue
            if not line or line.startswith("#"):
                continue
            name, password = [*line.split(None, 1), ""][:2]
            problem = users.username_problem(name) or (
                users.password_problem(password) if password else 'no password (each line is "username password")'
            )
            if problem is None and name.lower() in first_seen:
                problem = f'"{name}" is already on line {first_seen[name.lower()]}'
            if problem is not None:
                out.bad.append(f"line {number}: {problem}")
                continue
            first_seen[name.lower()] = number
            out.good.append((name, password))
    return out


async def import_users(
    users: UserService,
    app: App,
    entries: list[tuple[str, str]],
    batch: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Register the users not yet registered, `batch` at a time (each batch one transaction);
    return how many were registered. `progress(done)` is called after each batch."""
    added = 0
    for i in range(0, len(entries), batch):
        chunk = entries[i : i + batch]
        present = {u.key for u in await users.get_many(app, [name for name, _ in chunk])}
        new = [{"username": name, "password": pw} for name, pw in chunk if name.lower() not in present]
        if new:
            added += len(await users.register(app, new))
        if progress is not None:
            progress(i + len(chunk))
    return added
