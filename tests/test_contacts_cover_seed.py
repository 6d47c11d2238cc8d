"""The contacts directory covers every lead the seed plan names, unambiguously.

Reads config/contacts.toml (tomllib) and seed/cbc-action-plan-2012-13.yaml (yaml.safe_load)
directly, matching names the way the directory documents: case-insensitive, repeated
whitespace collapsed, punctuation at the ends ignored.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from functools import cache
from typing import Any

from tests.conftest import CONTACTS, seed_data

END_PUNCTUATION = " \t.,;:-–"
ROLE_FIELDS = {"person", "email", "aliases", "deputy", "line_manager"}


def name_key(name: str) -> str:
    """Two spellings of one name share this key: case, spacing and end punctuation ignored."""
    return " ".join(name.split()).strip(END_PUNCTUATION).casefold()


@cache
def contacts() -> dict[str, Any]:
    with CONTACTS.open("rb") as f:
        return tomllib.load(f)


def seed() -> dict[str, Any]:
    return seed_data()


def roles() -> dict[str, dict[str, Any]]:
    return contacts()["roles"]


def claims() -> dict[str, set[str]]:
    """Name key -> the role keys that claim it (by key or alias)."""
    out: dict[str, set[str]] = defaultdict(set)
    for key, role in roles().items():
        for spelling in (key, *role.get("aliases", [])):
            out[name_key(spelling)].add(key)
    return out


def seed_lead_names() -> dict[str, list[str]]:
    """Every lead role and strategic lead in the seed -> where it is used."""
    names: dict[str, list[str]] = defaultdict(list)
    for ws in seed()["work_streams"]:
        names[ws["strategic_lead"]].append(f"WS{ws['number']} strategic lead")
        for action in ws["actions"]:
            for group in action.get("lead_roles", []):
                for role in group if isinstance(group, list) else [group]:
                    names[role].append(action["id"])
    return names


def emails() -> list[str]:
    return [role["email"] for role in roles().values() if role["email"]]


def test_file_shape() -> None:
    assert set(contacts()) == {"administrator", "board", "roles"}
    assert set(contacts()["administrator"]) == {"name", "email"}
    assert contacts()["board"], "the Project Board is listed"
    for member in contacts()["board"]:
        assert set(member) == {"name", "email"}
        assert member["name"].strip()
    for key, role in roles().items():
        assert set(role) <= ROLE_FIELDS, key
        assert isinstance(role.get("aliases", []), list), key
        assert key == key.strip() and key, key


def test_every_seed_lead_resolves_to_exactly_one_role() -> None:
    index = claims()
    problems = {
        name: sorted(index.get(name_key(name), set()))
        for name in seed_lead_names()
        if len(index.get(name_key(name), set())) != 1
    }
    assert not problems


def test_no_name_is_claimed_by_two_roles() -> None:
    shared = {name: sorted(keys) for name, keys in claims().items() if len(keys) > 1}
    assert not shared


def test_aliases_are_not_repeats_of_their_own_key() -> None:
    for key, role in roles().items():
        spellings = [name_key(key), *(name_key(a) for a in role.get("aliases", []))]
        assert len(spellings) == len(set(spellings)), key


def test_every_role_is_used_by_the_seed() -> None:
    index = claims()
    used = set().union(*(index.get(name_key(n), set()) for n in seed_lead_names()))
    assert set(roles()) - used == set()


def test_deputy_and_line_manager_are_role_keys() -> None:
    for key, role in roles().items():
        for field in ("deputy", "line_manager"):
            target = role.get(field)
            if target is not None:
                assert target in roles(), (key, field, target)
                assert target != key, (key, field)


def test_line_management_has_no_cycles() -> None:
    for key in roles():
        seen = {key}
        current = roles()[key].get("line_manager")
        while current:
            assert current not in seen, key
            seen.add(current)
            current = roles()[current].get("line_manager")


def test_emails_are_unique_placeholders_at_example_org() -> None:
    addresses = emails()
    assert len(addresses) == len(roles()), "every role has a placeholder address"
    assert len(addresses) == len(set(addresses))
    admin = contacts()["administrator"]["email"]
    assert admin not in addresses
    for address in [*addresses, admin, *(m["email"] for m in contacts()["board"])]:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*@example\.org", address), address


def test_role_emails_are_derived_from_the_role_name() -> None:
    for key, role in roles().items():
        local = key.replace("&", " and ").replace("’", "").replace("'", "").lower()
        local = re.sub(r"[^a-z0-9]+", "-", local).strip("-")
        assert role["email"] == f"{local}@example.org", key


def test_board_members_share_their_roles_addresses() -> None:
    addresses = set(emails())
    for member in contacts()["board"]:
        assert member["email"] in addresses, member


def test_named_people_are_recorded_against_their_posts() -> None:
    people = {role["person"]: key for key, role in roles().items() if role.get("person")}
    assert people["Eileen Moran"] == "LSCB Training and Commissioning Manager"
    assert people["Lee Miller"] == "Head of Child Health Commissioning"
    assert {"Anne Murray", "Chris Myers", "Dawn Andrews"} <= set(people)
    for person, key in people.items():
        assert name_key(person) in claims() and claims()[name_key(person)] == {key}
