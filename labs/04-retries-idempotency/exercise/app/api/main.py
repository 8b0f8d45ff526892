"""Every route of the API, gathered in one router (each route module owns its prefix and tags)."""

from fastapi import APIRouter

from app.api.routes import dead_letters, health, tasks

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(tasks.router)
api_router.include_router(dead_letters.router)
