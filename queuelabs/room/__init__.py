"""The room: a trainer sees every learner's grades live (`make room`, `make join`, `make leave`).

A small queue-backed service on the course's own stack (TRAINERS.md, "Running a room"):
  app.py      the FastAPI service: join, post grades, the page and its event stream
  worker.py   the Celery worker that recomputes the page's summary off the request path
  summary.py  what the page shows, as plain functions
  static/     the page itself: plain HTML, CSS and JavaScript, nothing from a CDN
  outbox.py   the learner's side: grades kept on the laptop until the room has them
  record.py   the pytest plugin `make check` loads after `make join` (a file append)
  sender.py   the learner's background sender
  cli.py      the make targets
"""
