"""Every route of the API, gathered in one router (each router sets its own prefix and tags)."""

from fastapi import APIRouter

from app.api.routes import email, health, items, tasks

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(items.router)
api_router.include_router(tasks.router)
api_router.include_router(email.router)
