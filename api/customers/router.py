"""``GET /v1/customers/{id}``: tier, features, recent decisions, offers, contacts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.customers.schemas import CustomerView
from api.customers.service import customer_view
from api.deps import ReaderCaller, RuntimeDep
from engine.events import ID_PATTERN

router = APIRouter(prefix="/v1/customers", tags=["customers"])
CustomerId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]


@router.get(
    "/{customer}",
    response_model=CustomerView,
    summary="A customer's tier, feature values, recent decisions, offers and contacts",
)
async def get_customer(
    customer: CustomerId, runtime: RuntimeDep, caller: ReaderCaller, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> dict[str, Any]:
    return await customer_view(runtime, caller.tenant, customer, limit=limit)
