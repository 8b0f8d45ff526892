"""What every lab's checkpoints and tests build on: real components, isolated.

- `plugin`: the pytest plugin (loaded for every run, see pyproject.toml): which
  lab and whose code is graded, and the graded code on the import path.
- `fixtures`: the real-component fixtures: the lab's API under a real server
  on a free port, a real Celery worker subprocess, the isolated stack.
- `grading`: the exercise table at the end of a checkpoint run.
- `payments`: labs 04 and 05's fixtures (the payment service, its worker, the API), which both conftests import.
- `contract`: the HTTP contract of labs 02, 03 and 04 as checks that take a base URL.
- `checks`: small assertions that read starter code as "not started".
- `responsive`: a race of slow requests and probes (queuelabs/timing.py) judged as an order (lab 01).

Measuring, fault injection (queuelabs/faults.py), isolation (queuelabs/isolation.py) and log
excerpts are runtime code in the queuelabs package: pytest loads only what is here.
"""
