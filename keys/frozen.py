"""Fast positional constructors for the frozen, slotted dataclasses every verification builds.

A frozen dataclass's generated __init__ sets each field through object.__setattr__, about 90 ns
a field on CPython 3.11: a verdict and its parts (some 50 fields) cost 4-5 us that way. A maker
fills a twin instead, a plain class with the very same slots whose stores the interpreter does
in a few instructions, then gives the object its real class (assigning __class__ between two
classes of one layout, which Python checks and allows). A maker takes every init field
positionally, in declaration order, and returns an object equal to cls(*args); fields with
init=False get their default. Classes with __post_init__ are refused (a maker would skip it),
and so are classes with bases of their own (the twin would run their __init__)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


def positional_maker(cls: type[_T]) -> Callable[..., _T]:
    """A function f(*fields) building cls like cls(*fields), for a frozen slots dataclass."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen slots dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__ a maker would skip")
    ns: dict[str, Any] = {"_cls": cls, "_twin": _twin(cls)}
    args: list[str] = []
    body: list[str] = []
    for i, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
        if f.init:
            args.append(f"a{i}")
            body.append(f" o.{f.name} = a{i}")
        elif f.default is not dataclasses.MISSING:
            ns[f"_d{i}"] = f.default
            body.append(f" o.{f.name} = _d{i}")
        elif f.default_factory is not dataclasses.MISSING:
            ns[f"_d{i}"] = f.default_factory
            body.append(f" o.{f.name} = _d{i}()")
        else:
            raise TypeError(f"{cls.__name__}.{f.name} has no value a maker could give")
    src = f"def make({', '.join(args)}):\n o = _twin()\n" + "\n".join(body)
    src += "\n o.__class__ = _cls\n return o\n"
    exec(compile(src, f"<maker of {cls.__qualname__}>", "exec"), ns)  # noqa: S102
    make: Callable[..., _T] = ns["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    return make


def _twin(cls: type) -> type:
    """A plain class with cls's slots, whose objects may become cls's: called without arguments,
    it builds an empty object through object's own __new__ and __init__."""
    if cls.__bases__ != (object,):
        raise TypeError(
            f"{cls.__name__} has bases of its own: its objects cannot be made through a twin"
        )
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": cls.__dict__["__slots__"]})
    setattr(twin(), "__class__", cls)  # noqa: B010 - Python checks the layouts (mypy reads Never)
    return twin
