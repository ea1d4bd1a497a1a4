"""Facts -> the JSON text asserted into durable_rules, with projections computed once.

One encoder per event type is generated from the typed tree (like the python
backend, and with its emitter, so projected values mean exactly what they mean
there): it reads only the fields that event type's rules test, computes the
projections, and writes JSON by hand. Numbers are written without exponents
(durable cannot parse ``1e-05``); integers beyond 2**53 become +-1e18, which keeps
every comparison with a literal durable is allowed to see (|literal| <= 2**53).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from engine.backends.durable_translate import EXACT_LIMIT, Projection
from engine.backends.python_codegen import _Emitter  # the reference semantics of values
from engine.expr.tree import Type

Encoder = Callable[[Mapping[str, Any]], str]

encode_string: Callable[[str], str] = json.encoder.encode_basestring_ascii
_FAR = "1000000000000000000.0"


def encode_number(value: float) -> str:
    """JSON for a number, exact and exponent-free within +-2**53."""
    if -EXACT_LIMIT <= value <= EXACT_LIMIT:
        text = repr(value)
        return format(Decimal(text), "f") if "e" in text else text
    if value != value:
        return "null"  # NaN: never produced by engine.facts.coerce
    return _FAR if value > 0 else "-" + _FAR


def encode_value(value: Any) -> str:
    """JSON for a literal or a projected value of any type."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return encode_string(value)
    return encode_number(value)


_ENCODERS = {Type.STRING: "_str", Type.NUMBER: "_num", Type.BOOL: "_bool"}


def generate_encoder(
    guard: tuple[str, str],
    natives: Sequence[tuple[str, str, Type]],
    projections: Sequence[Projection],
) -> tuple[Encoder, str]:
    """Build ``encode(facts) -> '<properties>}'`` for one event type; also return its source.

    ``natives`` are (declared path, field id, type). Field ids and paths enter the
    source only as repr'd constants.
    """
    emitter = _Emitter()
    body: list[str] = []
    for path, field_id, declared in natives:
        key = json.dumps(field_id) + ":"
        body.append(f"    v = g({path!r})")
        if declared is Type.BOOL:  # the whole property is a constant
            body.append(f"    if v is not None: a({key + 'true'!r} if v else {key + 'false'!r})")
        elif declared is Type.NUMBER:  # repr is exponent-free between 1e-4 and 2**53 (< 1e16)
            plain = f"-{EXACT_LIMIT} <= v <= {EXACT_LIMIT} and (v >= 0.0001 or v <= -0.0001 or v == 0)"
            body.append(f"    if v is not None: a({key!r} + (_repr(v) if {plain} else _num(v)))")
        else:
            body.append(f"    if v is not None: a({key!r} + {_ENCODERS[declared]}(v))")
    for projection in projections:
        prefix = repr(json.dumps(projection.field) + ":")
        if projection.boolean:
            body.append(f"    a({prefix} + ('true' if {emitter.boolean(projection.node)} else 'false'))")
        else:
            body.append(f"    v = {emitter.value(projection.node)}")
            body.append(f"    if v is not None: a({prefix} + _val(v))")
    head = [
        "def encode(f):",
        "    g = f.get",
        f"    o = [{json.dumps(guard[0]) + ':' + encode_string(guard[1])!r}]",
        "    a = o.append",
    ]
    head += [f"    {variable} = g({path!r})" for path, variable in emitter.variables.items()]
    source = "\n".join([*head, *body, "    return ','.join(o) + '}'"])
    namespace: dict[str, Any] = {
        "__builtins__": {},
        **emitter.constants,
        "_str": encode_string,
        "_num": encode_number,
        "_bool": _encode_bool,
        "_val": encode_value,
        "_repr": repr,
    }
    exec(compile(source, "<yutang-durable-facts>", "exec"), namespace)
    encoder: Encoder = namespace["encode"]
    return encoder, source


def _encode_bool(value: bool) -> str:
    return "true" if value else "false"
