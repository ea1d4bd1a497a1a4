"""Numbers a caller or a pack writes: ``true`` is not 1.

pydantic's lax mode reads a JSON or YAML boolean as a number (``"amount": true`` is a payment of 1
yuan, ``false`` a 0元 order; ``score: true`` a score of 1, ``total: true`` a budget of one unit).
Nobody means a flag as a quantity, so a boolean where a number is declared is refused (a 422 on the
API, a diagnostic naming file, line and field in a pack); strings that spell a number are still read
as before (a storefront sending ``"99.00"``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator


def not_boolean(value: Any) -> Any:
    """``value`` unchanged, or a ValueError when it is ``true`` / ``false``."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not the boolean {str(value).lower()}")
    return value


#: An int / a float that refuses a boolean; constraints (``Field(ge=...)``) go in an outer ``Annotated``.
Int = Annotated[int, BeforeValidator(not_boolean)]
Float = Annotated[float, BeforeValidator(not_boolean)]
