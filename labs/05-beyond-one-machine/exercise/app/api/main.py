"""Every router of the API (each sets its own prefix and tags), in the order the app tries them.

main.py includes each one straight into the app: FastAPI matches nested
routers level by level on every request, so one flat level is the cheapest.
"""

from fastapi import APIRouter

from app.api.routes import dead_letters, health, tasks

routers: list[APIRouter] = [tasks.router, dead_letters.router, health.router]
