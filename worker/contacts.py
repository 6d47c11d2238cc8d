"""The contacts directory: lead role -> person, email, deputy and line manager.

Loaded from config/contacts.toml. Role names match case-, spacing- and end-punctuation-
insensitively (`leads.role_key`); aliases cover genuinely different spellings of one post.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from worker.errors import InputError, Problem
from worker.mail.headers import MAX_NAME, mail_address
from worker.plan.leads import role_key
from worker.tomlfile import read_toml


def check_address(value: str) -> str:
    """An address every mail backend can send to (syntax only, no DNS lookups), as headers
    and the envelope carry it: ASCII, an international domain as its A-label. ValueError
    naming why not, e.g. a non-ASCII part before the @ (docs/security.md)."""
    return mail_address(value)


def check_one_line(value: str) -> str:
    """The value, unless it spans lines (a header or a key must not): ValueError."""
    if "\n" in value or "\r" in value:
        raise ValueError("must be on one line")
    return value


def check_name(value: str) -> str:
    """A person's name for the To: and Reply-To: headers: one line, at most MAX_NAME long."""
    check_one_line(value)
    if len(value.strip()) > MAX_NAME:
        raise ValueError(f"is {len(value.strip())} characters long; a name may have {MAX_NAME}")
    return value


def check_optional_address(value: str) -> str:
    """`check_address`, except that a blank value is allowed and read as ""."""
    return check_address(value) if value.strip() else ""


# Field types that check themselves, for every model that takes addresses or names.
Address = Annotated[str, AfterValidator(check_address)]
OptionalAddress = Annotated[str, AfterValidator(check_optional_address)]
# One line, as the To:, From: and Reply-To: headers carry it.
DisplayName = Annotated[str, AfterValidator(check_name)]
# Names and role keys in the directory are compared without their outer spaces.
_Stripped = AfterValidator(str.strip)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Person(_Strict):
    name: DisplayName = Field(min_length=1)
    email: Address


class _Role(_Strict):
    person: Annotated[DisplayName, _Stripped] = ""
    # Empty: the post is vacant, reminders go to the deputy, then line manager.
    email: OptionalAddress = ""
    aliases: list[str] = []
    deputy: Annotated[str, AfterValidator(check_one_line), _Stripped] = ""
    line_manager: Annotated[str, AfterValidator(check_one_line), _Stripped] = ""


class _File(_Strict):
    administrator: _Person
    board: list[_Person] = []
    roles: dict[str, _Role] = {}


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    key: str
    person: str
    email: str
    aliases: tuple[str, ...]
    deputy: str  # key of another role, or ""
    line_manager: str


@dataclass(frozen=True, slots=True)
class Directory:
    administrator: Person
    board: tuple[Person, ...]
    roles: dict[str, Role]  # by key
    index: dict[str, str]  # role or alias key -> role key

    def find(self, name: str) -> Role | None:
        """The directory entry for a role as the plan names it, if any."""
        key = self.index.get(role_key(name))
        return self.roles[key] if key else None


def _problems(exc: ValidationError) -> list[Problem]:
    return [Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]


# The contacts tables store keys in columns of this size (worker/models.py).
MAX_KEY = 255


def _index(roles: dict[str, _Role]) -> tuple[dict[str, str], list[Problem]]:
    index: dict[str, str] = {}
    named_by: dict[str, str] = {}  # key -> the role (as written) that claimed it
    problems: list[Problem] = []
    for name, role in roles.items():
        key = role_key(name)
        for i, spelling in enumerate((name, *role.aliases)):
            alias_key = role_key(spelling)
            what = "the role name" if i == 0 else f"the alias {spelling!r}"
            if not alias_key:
                problems.append(Problem(f"roles.{name!r}", f"{what} is blank"))
                continue
            if len(alias_key) > MAX_KEY:
                reason = f"{what} is longer than {MAX_KEY} characters"
                problems.append(Problem(f"roles.{name!r}", reason))
                continue
            owner = index.setdefault(alias_key, key)
            claimed = named_by.setdefault(alias_key, name)
            if owner != key:
                problems.append(
                    Problem(f"roles.{name!r}", f"{spelling!r} already names role {owner!r}")
                )
            elif claimed != name:
                # Two entries whose names differ only in case, spacing or end punctuation.
                reason = f"{spelling!r} names the same role as {claimed!r}; merge the two entries"
                problems.append(Problem(f"roles.{name!r}", reason))
    return index, problems


def _links(roles: dict[str, _Role], index: dict[str, str]) -> list[Problem]:
    problems = []
    for name, role in roles.items():
        for field in ("deputy", "line_manager"):
            target = getattr(role, field)
            if target and role_key(target) not in index:
                problems.append(Problem(f"roles.{name!r}.{field}", f"no role named {target!r}"))
            elif target and index[role_key(target)] == role_key(name):
                reason = f"{target!r} is this role itself; name another role or leave it empty"
                problems.append(Problem(f"roles.{name!r}.{field}", reason))
    return problems


def parse_directory(data: Any, source: str) -> Directory:
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, _problems(exc)) from None
    index, problems = _index(parsed.roles)
    problems += _links(parsed.roles, index)
    if problems:
        raise InputError(source, problems)
    roles = {
        role_key(name): Role(
            name=name,
            key=role_key(name),
            person=r.person,
            email=r.email,
            aliases=tuple(r.aliases),
            deputy=index[role_key(r.deputy)] if r.deputy else "",
            line_manager=index[role_key(r.line_manager)] if r.line_manager else "",
        )
        for name, r in parsed.roles.items()
    }
    admin = Person(parsed.administrator.name, parsed.administrator.email)
    board = tuple(Person(p.name, p.email) for p in parsed.board)
    return Directory(admin, board, roles, index)


def load_directory(path: Path) -> Directory:
    """Read and check the contacts file. Raises InputError naming the file, key and reason."""
    data = read_toml(path, "contacts file")
    return parse_directory(data, str(path))


def directory_rows(directory: Directory) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """The directory as rows for the contacts tables: one per role, and (key, role key) pairs."""
    contacts = [
        {
            "role": r.name,
            "key": r.key,
            "person": r.person,
            "email": r.email,
            "deputy_key": r.deputy,
            "line_manager_key": r.line_manager,
        }
        for r in directory.roles.values()
    ]
    return contacts, sorted(directory.index.items())
