"""Items: plain CRUD awaited on AsyncMongoClient. No queue: a database round trip takes milliseconds."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status

from app import services
from app.api.deps import DbDep
from app.schemas import ErrorDetail, Item, ItemCreate
from queuelabs.web import one_line

router = APIRouter(
    prefix="/api/items",
    tags=["items (synchronous)"],
    responses={503: {"model": ErrorDetail, "description": "MongoDB did not answer in time"}},
)


@router.get("", response_model=list[Item])
async def list_items(db: DbDep, skip: int = Query(0, ge=0, le=1_000_000), limit: int = Query(50, ge=1, le=100)):
    return await services.list_items(db, skip=skip, limit=limit)


@router.post("", response_model=Item, status_code=status.HTTP_201_CREATED)
async def create_item(item: ItemCreate, db: DbDep):
    return await services.create_item(db, item.model_dump())


@router.get("/{item_id}", response_model=Item, responses={404: {"model": ErrorDetail, "description": "no such item"}})
async def get_item(item_id: str, db: DbDep):
    found = await services.get_item(db, item_id)
    if found is None:  # unknown, or not even a valid ObjectId: either way, no such item
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no item with id {one_line(item_id, 100)}")
    return found
