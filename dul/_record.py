"""A tiny value-object base: equality and repr derived from ``__slots__``.

Used instead of ``dataclasses``, whose import pulls in ``inspect`` and costs about
15 ms, more than a third of a whole DCMTK echo (docs/design.md D3).
"""

from __future__ import annotations


class Record:
    """Base for plain value classes: subclasses list their fields in ``__slots__``.

    A subclass of a record adds its own ``__slots__``; its fields are its bases'
    followed by its own.
    """

    __slots__ = ()
    __hash__ = None  # records hold lists, so they are mutable and unhashable

    def _names(self) -> tuple[str, ...]:
        names: tuple[str, ...] = ()
        for klass in reversed(self.__class__.__mro__):
            names += klass.__dict__.get("__slots__", ())
        return names

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self._names())

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._names())
        return f"{self.__class__.__name__}({fields})"
