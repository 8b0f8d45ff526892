"""Every route of the API, gathered in one router."""

from fastapi import APIRouter

from app.api.routes import email, health, items, tasks

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(items.router, prefix="/api/items", tags=["items (synchronous)"])
api_router.include_router(tasks.router, prefix="/api/async", tags=["background tasks"])
api_router.include_router(email.router, prefix="/api", tags=["email"])
