"""Command-line facts Click does not keep: where each option stands on the line.

DCMTK's TLS option blocks are "rightmost wins" and pynetdicom's exclusive groups
report the first two members given; both need the order of the options as typed.
The scan skips option values exactly as Click consumes them (n values after an
option taking n), and stops at ``--``.
"""

from __future__ import annotations

#: pynetdicom's ``-x=`` cannot be a Click option name (Click splits ``name=value``)
PREFER_UNCOMPR_SHORT = "-x="
PREFER_UNCOMPR_LONG = "--prefer-uncompr"


class Occurrence:
    """One option as typed: its position among the arguments, the name used, its values."""

    __slots__ = ("position", "name", "values")

    def __init__(self, position: int, name: str, values: list[str] | None = None) -> None:
        self.position = position
        self.name = name
        self.values = values or []


def scan(args: list[str], arity: dict[str, int]) -> tuple[list[str], list[Occurrence]]:
    """Rewrite ``-x=`` to its long name and list every known option in typed order.

    ``arity`` maps each option name (short and long) to the number of values it takes.
    Returns the arguments to hand to Click and the occurrences of known options.
    """
    rewritten = list(args)
    found: list[Occurrence] = []
    position = 0
    while position < len(rewritten):
        token = rewritten[position]
        if token == "--":
            break
        if token == PREFER_UNCOMPR_SHORT:
            rewritten[position] = PREFER_UNCOMPR_LONG
            token = PREFER_UNCOMPR_SHORT
        name, inline = token, None
        if token.startswith("--") and "=" in token:
            name, inline = token.split("=", 1)
        count = arity.get(name)
        if count is not None:
            values = [inline] if inline is not None else \
                rewritten[position + 1:position + 1 + count]
            found.append(Occurrence(position, name, values))
            if inline is None:
                position += count
        position += 1
    return rewritten, found


def rightmost(found: list[Occurrence], names: dict[str, str]) -> str | None:
    """The canonical name (``names[typed name]``) of the last member of a block typed."""
    winner = None
    for occurrence in found:
        if occurrence.name in names:
            winner = names[occurrence.name]
    return winner


def first_two(found: list[Occurrence], names: dict[str, str]) -> tuple[str, str] | None:
    """The first two distinct members of an exclusive group typed, in typed order."""
    seen: list[str] = []
    for occurrence in found:
        canonical = names.get(occurrence.name)
        if canonical is not None and canonical not in seen:
            seen.append(canonical)
            if len(seen) == 2:
                return seen[0], seen[1]
    return None
