"""One registry type for everything njscc builds by name.

Models, objectives, priors, channels, channel codes, source codecs, datasets and experiments
each have one :class:`Registry`; they all behave the same::

    >>> from njscc.models import MODELS
    >>> MODELS.available()
    ['necst_conv', 'necst_mlp', 'vae_mlp', 'vib_mlp']
    >>> model = MODELS.get("necst_mlp", m=100)
    >>> model.config                  # the name and *every* constructor argument, as JSON
    {'name': 'necst_mlp', 'kwargs': {'m': 100, 'data_shape': [1, 28, 28], ...}}
    >>> cfg = model.config
    >>> MODELS.get(cfg["name"], **cfg["kwargs"])   # rebuilds the same architecture

``register`` is a decorator (``@MODELS.register("tiny")``) or a call
(``MODELS.register("tiny", TinyCodec)``); what it registers is a class or any callable that
builds the object. ``get`` checks the keyword arguments against the factory's signature
(unknown ones are a ``TypeError`` that lists the accepted ones) and records the config.

**Config, recorded once.** Classes that derive from :class:`Configurable` (every
:class:`~njscc.codec.LatentCodec`, :class:`~njscc.objectives.Objective` and prior) remember the
arguments of their outermost constructor call, defaults filled in, so a model built directly
(``NecstMLP(m=64)``) has the same ``config`` as one built by name, and both save checkpoints
that load. The registry supplies the registered name.

**Plugins.** Another distribution adds entries through Python entry points in the group named
by the registry (``njscc.models``, ``njscc.objectives``, ``njscc.priors``, ``njscc.channels``,
``njscc.codes``, ``njscc.sources``, ``njscc.datasets``, ``njscc.experiments``)::

    [project.entry-points."njscc.models"]
    tiny_necst = "my_pkg.models:TinyNecst"   # an object: registered under the entry's name
    my_pkg = "my_pkg.register"               # a module: importing it registers (decorators)

They are loaded on the first lookup; a plugin that fails to import is reported with a
warning naming it and is otherwise ignored.
"""

from __future__ import annotations

import functools
import inspect
import re
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from njscc.validation import jsonable

__all__ = ["Configurable", "Entry", "Registry", "record_config", "registered_name"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
#: class → (registry kind, registered name), for configs of directly built objects
_CLASS_NAMES: dict[type, tuple[str, str]] = {}


def registered_name(cls: type) -> str | None:
    """The name the class ``cls`` itself is registered under (first registration), or ``None``."""
    hit = _CLASS_NAMES.get(cls)
    return hit[1] if hit else None


@dataclass(frozen=True)
class Entry:
    """One registered name: its factory, aliases and where it came from."""

    name: str
    factory: Callable[..., Any]
    aliases: tuple[str, ...] = ()
    source: str = "njscc"
    doc: str = ""

    @property
    def summary(self) -> str:
        """One line for listings: ``doc`` if given, else the factory's first docstring line."""
        doc = self.doc or inspect.getdoc(self.factory) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def signature(self) -> inspect.Signature:
        return inspect.signature(self.factory)

    def accepts(self, argument: str) -> bool:
        """Whether the factory takes keyword ``argument`` (or any, via ``**kwargs``)."""
        params = self.signature().parameters
        return argument in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class Registry(Generic[T]):
    """Names → factories for one kind of object (see the module docstring).

    Args:
        kind: what is registered, for messages (``"model"``, ``"objective"``, ...).
        group: the entry-point group plugins use (``"njscc.models"``, ...).
        base: if given, a registered *class* must subclass it.
        strict_config: ``True``: every argument passed to :meth:`get` must be JSON (a model's
            config goes into its checkpoint); ``False``: non-JSON arguments are recorded as
            their ``repr`` (provenance only, e.g. a dataset's ``torch.Generator``).
    """

    def __init__(self, kind: str, group: str, *, base: type | None = None,
                 strict_config: bool = True) -> None:
        self.kind = kind
        self.group = group
        self.base = base
        self.strict_config = strict_config
        self._entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}
        self._plugins_loaded = False

    # ------------------------------------------------------------------ registering
    def register(self, name: str, factory: F | None = None, *, aliases: tuple[str, ...] = (),
                 source: str | None = None, summary: str = "") -> Any:
        """Register ``factory`` as ``name`` (decorator when ``factory`` is omitted).

        Re-registering the same qualified name (a module reloaded) replaces the entry; a
        different object under a taken name or alias is a ``ValueError``.
        """
        for n in (name, *aliases):
            if not isinstance(n, str) or not _NAME.match(n):
                raise ValueError(f"{self.kind} name must be lowercase letters, digits, '_', '.' "
                                 f"or '-', starting with a letter or digit; got {n!r}")

        def deco(obj: F) -> F:
            if not callable(obj):
                raise TypeError(f"register({name!r}): expected a class or a callable, got "
                                f"{type(obj).__name__}")
            if self.base is not None and isinstance(obj, type) and not issubclass(obj, self.base):
                raise TypeError(f"register({name!r}): {obj.__qualname__} is not a "
                                f"{self.base.__name__}")
            for n in (name, *aliases):
                old = self._entries.get(self._aliases.get(n, n))
                if old is not None and _qualname(old.factory) != _qualname(obj):
                    raise ValueError(f"{self.kind} name {n!r} is already registered to "
                                     f"{_qualname(old.factory)} ({old.source})")
            src = source or (obj.__module__.split(".")[0] if hasattr(obj, "__module__")
                             else "njscc")
            self._entries[name] = Entry(name, obj, tuple(aliases), src, summary)
            for a in aliases:
                self._aliases[a] = name
            if isinstance(obj, type):
                _CLASS_NAMES.setdefault(obj, (self.kind, name))
            return obj

        return deco if factory is None else deco(factory)

    # ------------------------------------------------------------------ plugins
    def load_plugins(self) -> None:
        """Import the entry points of :attr:`group` (once)."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            try:
                obj = ep.load()
                if isinstance(obj, types.ModuleType):
                    continue  # importing the module registered its entries
                if ep.name not in self._entries:
                    dist = getattr(ep, "dist", None)
                    self.register(ep.name, obj, source=getattr(dist, "name", None) or ep.value)
            except Exception as e:  # noqa: BLE001 - a broken plugin must not break njscc
                warnings.warn(f"njscc: {self.group} plugin {ep.name!r} ({ep.value}) failed to "
                              f"load: {type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)

    # ------------------------------------------------------------------ lookup
    def available(self) -> list[str]:
        """Registered names (plugins included), sorted."""
        self.load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._resolve(name, missing_ok=True) is not None

    def __iter__(self) -> Iterator[Entry]:
        self.load_plugins()
        return iter(self._entries[n] for n in sorted(self._entries))

    def _resolve(self, name: str, missing_ok: bool = False) -> str | None:
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a str, got {type(name).__name__}")
        key = name.strip().lower()
        key = self._aliases.get(key, key)
        if key not in self._entries:
            self.load_plugins()
            key = self._aliases.get(key, key)
        if key in self._entries:
            return key
        if missing_ok:
            return None
        raise ValueError(f"unknown {self.kind} {name!r}; available: {', '.join(self.available())}")

    def entry(self, name: str) -> Entry:
        """The :class:`Entry` registered as ``name`` (or one of its aliases)."""
        return self._entries[self._resolve(name)]

    def canonical(self, name: str) -> str:
        """The registered name behind ``name`` (resolves aliases and case)."""
        return self.entry(name).name

    def get(self, name: str, *args: Any, **kwargs: Any) -> T:
        """Build ``name`` with ``args``/``kwargs``; records ``config`` on the result.

        Raises:
            ValueError: unknown ``name`` (the message lists the available ones) or a bad value.
            TypeError: an argument the factory does not take (the message lists those it
                does), or a non-JSON argument for a registry with JSON configs.
        """
        entry = self.entry(name)
        bound = self.bind(entry, args, kwargs)
        obj = entry.factory(*args, **kwargs)
        record_config(obj, entry.name, bound)
        return obj

    def bind(self, entry: Entry, args: tuple[Any, ...], kwargs: dict[str, Any]
             ) -> dict[str, Any]:
        """All arguments of a call to ``entry`` (defaults filled in) as JSON config values."""
        sig = entry.signature()
        params = sig.parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            unknown = sorted(k for k in kwargs if k not in params)
            if unknown:
                accepted = [k for k, p in params.items()
                            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
                raise TypeError(f"{self.kind} {entry.name!r} got unknown argument(s) "
                                f"{', '.join(unknown)}; it accepts: {', '.join(accepted)}")
        try:
            b = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.kind} {entry.name!r}: {e}") from None
        b.apply_defaults()
        return _config_kwargs(b, f"{self.kind} {entry.name!r} argument", self.strict_config)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries, group={self.group!r})"


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _config_kwargs(bound: inspect.BoundArguments, where: str, strict: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in bound.arguments.items():
        param = bound.signature.parameters[k]
        items = v.items() if param.kind is param.VAR_KEYWORD else [(k, v)]
        if param.kind is param.VAR_POSITIONAL:
            items = [(k, list(v))]
        for key, val in items:
            try:
                out[key] = jsonable(val, f"{where} {key!r}")
            except (TypeError, ValueError):
                if strict:
                    raise
                out[key] = repr(val)
    return out


def record_config(obj: Any, name: str, kwargs: dict[str, Any]) -> None:
    """Attach ``{"name", "kwargs"}`` to ``obj`` (silently skipped where attributes cannot be
    set, e.g. on builtins)."""
    if isinstance(obj, Configurable):
        object.__setattr__(obj, "_config_name", name)
        object.__setattr__(obj, "_init_kwargs", dict(kwargs))
        return
    if getattr(obj, "config", None) is not None:
        return  # the object has a config of its own (e.g. a method): leave it alone
    try:
        obj.config = {"name": name, "kwargs": dict(kwargs)}
    except (AttributeError, TypeError):
        pass


class Configurable:
    """Mixin that records the outermost constructor call, so ``config`` can rebuild the object.

    ``config`` is ``{"name": <registered name or None>, "kwargs": {every constructor argument,
    defaults filled in, as JSON}}``. Subclasses need nothing: ``__init_subclass__`` wraps each
    subclass's ``__init__``. A non-JSON argument makes reading ``config`` a ``TypeError``
    naming it (such an object cannot be saved and rebuilt).
    """

    _config_name: str | None = None
    _init_kwargs: dict[str, Any] | None = None
    _config_kind: ClassVar[str] = "object"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_njscc_records", False):
            return
        sig = inspect.signature(init)

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kw: Any) -> None:  # noqa: N807
            init(self, *args, **kw)
            if type(self).__init__ is __init__ and self.__dict__.get("_init_kwargs") is None:
                b = sig.bind(self, *args, **kw)
                b.apply_defaults()
                b.arguments.pop(next(iter(sig.parameters)))  # self
                object.__setattr__(self, "_init_kwargs", _raw_kwargs(b))

        __init__._njscc_records = True  # type: ignore[attr-defined]
        cls.__init__ = __init__  # type: ignore[method-assign]

    @property
    def config(self) -> dict[str, Any]:
        """``{"name", "kwargs"}`` that rebuilds this object through its registry."""
        name = self.__dict__.get("_config_name") or registered_name(type(self))
        raw = self.__dict__.get("_init_kwargs") or {}
        where = f"{self._config_kind} {name or type(self).__name__!r} argument"
        return {"name": name, "kwargs": {k: jsonable(v, f"{where} {k!r}") for k, v in raw.items()}}


def _raw_kwargs(b: inspect.BoundArguments) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in b.arguments.items():
        param = b.signature.parameters[k]
        if param.kind is param.VAR_KEYWORD:
            out.update(v)
        elif param.kind is param.VAR_POSITIONAL:
            out[k] = list(v)
        else:
            out[k] = v
    return out
