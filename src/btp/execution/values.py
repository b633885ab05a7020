"""Type-preserving JSON encoding of Python values crossing the sandbox's process boundary.

The program process encodes what the program's functions return; the judge process (and only it)
decodes, into plain builtin objects. Decoding never runs code from the program: whatever the
program sends becomes ``int``/``str``/``tuple``/... built by the decoder, so an object with a
forged ``__eq__`` or ``__bool__`` cannot cross. Python's ``==`` on the decoded values is then
what ``==`` on the originals would be, for every type in the table below.

| value | JSON |
|---|---|
| None, bool, int, str, finite float | itself |
| int of more than ~3900 digits | {"ix": hex} (JSON's decimal form is limited to 4300 digits) |
| list | array |
| nan / inf / -inf | {"f": "nan"} ... |
| tuple, set, frozenset | {"t": [...]}, {"s": [...]}, {"fs": [...]} |
| dict | {"d": [[key, value], ...]} (keys of any encodable type) |
| bytes, bytearray, complex | {"b": hex}, {"ba": hex}, {"c": [re, im]} |
| collections.OrderedDict / Counter / defaultdict / deque | {"od" / "ctr" / "dd" / "dq": ...} |
| decimal.Decimal, fractions.Fraction | {"dec": str}, {"fr": [num, den]} |
| iterator / generator (exhausted) | {"it": [...]} (decoded as an iterator over the items) |
| numpy array / numpy scalar | {"nd": [dtype, shape, items]} / {"ns": [dtype, item]} (other dtypes: ``.item()``) |
| range, dict keys / values / items views | {"rg": [start, stop, step]}, {"dk" / "dv" / "di": ...} |
| namedtuple | {"nt": [typename, fields, items]} (decoded as a namedtuple of that name and fields) |
| a builtin type or function (``int``, ``abs``) | {"bi": name} |
| any other object (program side only) | {"ref": id}: a handle, see ``judge.Remote`` |

Subclasses of builtin types that are not in the table (a ``namedtuple``, a ``str`` or ``list``
subclass) are encoded as their builtin base, read through the base type's own methods.
"""

from __future__ import annotations

import builtins
import collections
import collections.abc
import decimal
import fractions
import functools
import math
from typing import Callable

MAX_DEPTH = 200


class Unencodable(TypeError):
    """A value with no encoding (and no handle table to put it in)."""


class BadValue(ValueError):
    """Bytes from the other side that are not a valid encoding."""


# ints of more decimal digits than str() may make (sys.get_int_max_str_digits(), 4300) go as hex
_BIG = 1 << 13000

_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _float(x: float):
    if math.isfinite(x):
        return x
    return {"f": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def encode(x, ref: Callable[[object], int] | None = None, _depth: int = 0):
    """JSON-ready form of ``x``; objects with no encoding go through ``ref`` (or raise Unencodable)."""
    if _depth > MAX_DEPTH:
        raise Unencodable("value nested too deeply")
    t = type(x)
    d = _depth + 1
    if t is int:
        return x if -_BIG < x < _BIG else {"ix": format(x, "x")}
    if x is None or t is bool or t is str:
        return x
    if t is float:
        return _float(x)
    if t is list:
        return [encode(v, ref, d) for v in x]
    if t is tuple:
        return {"t": [encode(v, ref, d) for v in x]}
    if t is dict:
        return {"d": [[encode(k, ref, d), encode(v, ref, d)] for k, v in x.items()]}
    if t is set or t is frozenset:
        return {"s" if t is set else "fs": [encode(v, ref, d) for v in x]}
    if t is bytes or t is bytearray:
        return {"b" if t is bytes else "ba": x.hex()}
    if t is complex:
        return {"c": [_float(x.real), _float(x.imag)]}
    special = _encode_special(x, t, ref, d)
    if special is not None:
        return special
    if ref is None:
        raise Unencodable(f"cannot send a {t.__module__}.{t.__qualname__}")
    return {"ref": ref(x)}


def _encode_special(x, t, ref, d):
    name = getattr(x, "__name__", None) if t is type or t is _BUILTIN_FUNCTION else None
    if isinstance(name, str) and getattr(builtins, name, None) is x:
        return {"bi": name}
    if t is collections.OrderedDict or t is collections.Counter or t is collections.defaultdict:
        tag = {collections.OrderedDict: "od", collections.Counter: "ctr", collections.defaultdict: "dd"}[t]
        return {tag: [[encode(k, ref, d), encode(v, ref, d)] for k, v in dict.items(x)]}
    if t is collections.deque:
        return {"dq": [encode(v, ref, d) for v in x]}
    if t is decimal.Decimal:
        return {"dec": str(x)}
    if t is fractions.Fraction:
        return {"fr": [x.numerator, x.denominator]}
    if t.__module__ == "numpy" and hasattr(x, "tolist"):
        if t.__name__ == "ndarray":
            return {"nd": [str(x.dtype), list(x.shape), encode(x.ravel().tolist(), ref, d)]}
        if _numpy_dtype_ok(x.dtype):  # stays a numpy scalar: `np.True_ is True` is False in-process too
            return {"ns": [str(x.dtype), encode(x.item(), ref, d)]}
        return encode(x.item(), ref, d)
    if t is range:
        return {"rg": [encode(x.start, ref, d), encode(x.stop, ref, d), encode(x.step, ref, d)]}
    if t in _DICT_VIEWS:
        tag = _DICT_VIEWS[t]
        items = [[encode(k, ref, d), encode(v, ref, d)] for k, v in x] if tag == "di" else [encode(v, ref, d) for v in x]
        return {tag: items}
    if isinstance(x, tuple) and t is not tuple:  # a namedtuple keeps its field names
        fields = getattr(t, "_fields", None)
        if type(fields) is tuple and all(type(f) is str for f in fields) and len(fields) == tuple.__len__(x):
            return {"nt": [str(t.__name__), list(fields), [encode(v, ref, d) for v in tuple.__iter__(x)]]}
    # subclasses of builtin types, read through the base type (never the subclass's overrides)
    for base, read in _BASES:
        if isinstance(x, base):
            return encode(read(x), ref, d)
    if isinstance(x, collections.abc.Iterator):
        return {"it": [encode(v, ref, d) for v in x]}
    return None


_BUILTIN_FUNCTION = type(len)
_DICT_VIEWS = {type({}.keys()): "dk", type({}.values()): "dv", type({}.items()): "di"}
_BASES = (
    (bool, bool.__bool__), (int, lambda x: int.__add__(x, 0)), (float, lambda x: float.__float__(x)),
    (str, lambda x: str.__str__(x)), (bytes, lambda x: bytes(memoryview(x))),
    (tuple, lambda x: tuple(tuple.__iter__(x))), (list, lambda x: list(list.__iter__(x))),
    (dict, lambda x: dict(dict.items(x))), (frozenset, lambda x: frozenset(frozenset.__iter__(x))),
    (set, lambda x: set(set.__iter__(x))),
)


def decode(obj, ref: Callable[[int], object] | None = None, _depth: int = 0):
    """The value ``obj`` encodes, made of builtin objects only (``ref`` maps handles, if allowed)."""
    if _depth > MAX_DEPTH:
        raise BadValue("value nested too deeply")
    t = type(obj)
    d = _depth + 1
    if obj is None or t is bool or t is int or t is str or t is float:
        return obj
    if t is list:
        return [decode(v, ref, d) for v in obj]
    if t is not dict or len(obj) != 1:
        raise BadValue(f"not an encoded value: {type(obj).__name__}")
    (tag, v), = obj.items()
    try:
        return _DECODERS[tag](v, ref, d)
    except KeyError:
        raise BadValue(f"unknown value tag {tag!r}") from None
    except (TypeError, ValueError, decimal.InvalidOperation, ZeroDivisionError, OverflowError) as e:
        if isinstance(e, BadValue):
            raise
        raise BadValue(f"bad {tag!r} value: {e}") from None


def _items(v, ref, d) -> list:
    if type(v) is not list:
        raise BadValue("expected a list")
    return [decode(x, ref, d) for x in v]


def _pairs(v, ref, d) -> list:
    if type(v) is not list or not all(type(p) is list and len(p) == 2 for p in v):
        raise BadValue("expected [key, value] pairs")
    return [(decode(k, ref, d), decode(x, ref, d)) for k, x in v]


def _special_float(v):
    if type(v) is float:
        return v
    if type(v) is dict and list(v) == ["f"] and v["f"] in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[v["f"]]
    if type(v) is int:
        return float(v)
    raise BadValue("expected a float")


def _hex(v) -> bytes:
    if type(v) is not str:
        raise BadValue("expected hex")
    return bytes.fromhex(v)


def _ref(v, ref, d):
    if ref is None or type(v) is not int:
        raise BadValue("object handles are not accepted here")
    return ref(v)


def _numpy_dtype_ok(dt) -> bool:
    """Dtypes sent as such: never object arrays, nor long doubles, whose items have no encoding
    to send them back (a program could make a value the judge cannot pass on)."""
    return dt.kind in "biufcUS" and not (dt.kind in "fc" and dt.itemsize > (8 if dt.kind == "f" else 16))


def _numpy_dtype(dtype):
    import numpy

    dt = numpy.dtype(dtype) if type(dtype) is str else None
    if dt is None or not _numpy_dtype_ok(dt):
        raise BadValue(f"numpy dtype {dtype!r} not accepted")
    return dt


def _ndarray(v, ref, d):
    import numpy

    dtype, shape, items = v
    if type(shape) is not list or not all(type(n) is int for n in shape):
        raise BadValue("bad ndarray")
    return numpy.array(_items(items, None, d), dtype=_numpy_dtype(dtype)).reshape(shape)


def _numpy_scalar(v, ref, d):
    dtype, item = v
    return _numpy_dtype(dtype).type(decode(item, None, d))


def _range(v, ref, d):
    start, stop, step = _items(v, None, d)
    if not all(type(n) is int for n in (start, stop, step)):
        raise BadValue("bad range")
    return range(start, stop, step)


MAX_NAME = 64  # longest namedtuple type or field name made into a class (else a plain tuple)
MAX_FIELDS = 256


@functools.lru_cache(maxsize=64)
def _namedtuple_class(name: str, fields: tuple):
    """The class for a namedtuple the program returned. The judge clears this cache for every
    program (``clear_caches``): classes made from one program's data must not pile up."""
    try:
        return collections.namedtuple(name, fields)  # validates the names (identifiers only)
    except ValueError:
        return None  # a name namedtuple takes only with rename=True ("_1"): a plain tuple


def clear_caches() -> None:
    _namedtuple_class.cache_clear()


def _namedtuple(v, ref, d):
    name, fields, items = v
    if type(name) is not str or type(fields) is not list or not all(type(f) is str for f in fields):
        raise BadValue("bad namedtuple")
    values = _items(items, ref, d)
    if len(values) != len(fields):
        raise BadValue("bad namedtuple")
    big = len(fields) > MAX_FIELDS or len(name) > MAX_NAME or any(len(f) > MAX_NAME for f in fields)
    cls = None if big else _namedtuple_class(name, tuple(fields))
    return tuple(values) if cls is None else cls(*values)


def _builtin(v, ref, d):
    """A builtin type or function by name: only one ``encode`` sends as ``{"bi": name}`` (its own
    name; ``builtins.__loader__`` is a class named ``BuiltinImporter``, which would not encode
    again, and a value from the program that does not encode again must not exist in the judge)."""
    obj = getattr(builtins, v, None) if type(v) is str else None
    if obj is None or not (type(obj) is type or type(obj) is _BUILTIN_FUNCTION) or obj.__name__ != v:
        raise BadValue("unknown builtin")
    return obj


def _fraction(v, ref, d):
    if type(v) is not list or len(v) != 2 or not all(type(n) is int for n in v):
        raise BadValue("bad fraction")
    return fractions.Fraction(v[0], v[1])


def _complex(v, ref, d):
    if type(v) is not list or len(v) != 2:
        raise BadValue("bad complex")
    return complex(_special_float(v[0]), _special_float(v[1]))


def _big_int(v, ref, d):
    if type(v) is not str or len(v) > 1 << 24:
        raise BadValue("bad big int")
    return int(v, 16)


def _decimal(v, ref, d):
    if type(v) is not str:
        raise BadValue("bad decimal")
    return decimal.Decimal(v)


_DECODERS = {
    "f": lambda v, ref, d: _special_float({"f": v}),
    "t": lambda v, ref, d: tuple(_items(v, ref, d)),
    "s": lambda v, ref, d: set(_items(v, ref, d)),
    "fs": lambda v, ref, d: frozenset(_items(v, ref, d)),
    "d": lambda v, ref, d: dict(_pairs(v, ref, d)),
    "b": lambda v, ref, d: _hex(v),
    "ba": lambda v, ref, d: bytearray(_hex(v)),
    "c": _complex,
    "od": lambda v, ref, d: collections.OrderedDict(_pairs(v, ref, d)),
    "ctr": lambda v, ref, d: collections.Counter(dict(_pairs(v, ref, d))),
    "dd": lambda v, ref, d: collections.defaultdict(None, _pairs(v, ref, d)),
    "dq": lambda v, ref, d: collections.deque(_items(v, ref, d)),
    "dec": _decimal,
    "ix": _big_int,
    "fr": _fraction,
    "it": lambda v, ref, d: iter(_items(v, ref, d)),
    "nd": _ndarray,
    "ns": _numpy_scalar,
    "rg": _range,
    "dk": lambda v, ref, d: dict.fromkeys(_items(v, ref, d)).keys(),
    "dv": lambda v, ref, d: dict(enumerate(_items(v, ref, d))).values(),
    "di": lambda v, ref, d: dict(_pairs(v, ref, d)).items(),
    "nt": _namedtuple,
    "ref": _ref,
    "bi": _builtin,
}
