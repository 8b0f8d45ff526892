"""`make bench LAB=02`: the naive variant, the reference and the tuned variant, under the same load, in one run.

(`make bench LAB=05` compares one node with the cluster instead: cluster.py.)

The naive variant (labs/02-fastapi-celery/bench/naive_app.py) is the anti-pattern
the lesson warns about: synchronous PyMongo, Redis and `apply_async` straight
inside `async def`. The tuned variant is the reference with bench/tuned/'s
modules laid over it and its few edits made (tuned.py): a batching publisher,
Redis pipelining, gc.freeze. All run under uvicorn with the same number of processes,
side by side, against the checkpoints' isolated stack, with no worker (the
queues are emptied after each step). In each round (load.py, measure.py):

1. the raw `apply_async` publish rate of one process that does nothing else:
   the ceiling for anything that publishes through Celery;
2. for each variant: GET /api/items?limit=5 (the cheap route) on a clock,
   idle, then during a flood of POST /api/async/process: accepted submits
   per second and the API's CPU time per accepted submit;
3. for each variant: RabbitMQ stopped by pid (SIGSTOP) under lighter submit
   load, until the API stops accepting submissions (the reference at once; the
   naive variant once its socket buffers are full, after however many 202s the
   machine let it push), then for 6 s: the cheap route on a clock, and single
   submissions on a clock, each timed until its answer, however late (the
   naive variant's hang ends with the freeze), and whether it came before the
   thaw.

Every ratio is taken within a round; the report gives medians over the rounds.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..isolation import delete_queues, purge_queues
from ..labs import Lab, find_lab
from ..probes import services_down
from ..settings import TEST_ENV
from ..stack import ensure_test_vhost
from .measure import FLOOD_CONNECTIONS, LOAD_SECONDS, Variant, run_rounds, start_api
from .report import report
from .tuned import TunedVariantError, tuned_tree


def bench_env(lab: Lab) -> dict[str, str]:
    """The checkpoints' isolated stack (test vhost, Redis db, Mongo database)."""
    return {**os.environ, **TEST_ENV, **lab.manifest.checkpoints.env, "PYTHONUNBUFFERED": "1"}


def lines_of(path: Path) -> int:
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return sum(len(file.read_text().splitlines()) for file in files)


def variants_of(lab: Lab, env: dict[str, str], *, tuned: bool = True) -> list[Variant]:
    """The reference, the tuned variant, then the naive one (run with the solution on its path, for the Celery app)."""
    naive = lab.dir / "bench" / "naive_app.py"
    variants = [
        Variant("reference (solution/)", ["uvicorn", "app.main:app"], env, lines=lines_of(lab.solution_dir / "app"))
    ]
    if tuned and (lab.dir / "bench" / "tuned").is_dir():
        tree = tuned_tree(lab)
        command = ["uvicorn", "app.main:app", "--app-dir", str(tree)]
        variants.append(Variant("TUNED (bench/tuned/)", command, env, lines=lines_of(tree / "app")))
    variants.append(
        Variant(
            "NAIVE (anti-pattern)",
            ["uvicorn", "naive_app:app", "--app-dir", str(naive.parent)],
            {**env, "PYTHONPATH": str(lab.solution_dir)},
            lines=lines_of(naive),
        )
    )
    return variants


def run(lab_id: str = "02", *, processes: int = 1, connections: int = FLOOD_CONNECTIONS, rounds: int = 3) -> int:
    """Bench a lab's naive, reference and tuned APIs side by side; 0 when it ran, 2 or 3 when it could not."""
    lab = find_lab(lab_id)
    if "cluster" in lab.needs:  # lab 05: one node against the cluster (cluster.py)
        from .cluster import run as run_cluster

        return run_cluster(connections=connections, rounds=rounds)
    naive = lab.dir / "bench" / "naive_app.py"
    if not naive.exists():
        print(f"lab {lab.id} has no benchmark (no {naive.relative_to(lab.dir.parent.parent)}): try make bench LAB=02")
        return 2
    if down := services_down(lab.needs):
        print("\n".join(down))
        return 3
    if ensure_test_vhost():
        print("RabbitMQ answers, but the test vhost could not be created: restart the stack with: make down up")
        return 3
    env = bench_env(lab)
    try:
        variants = variants_of(lab, env)
    except TunedVariantError as exc:
        print(exc)
        return 2
    code_dir, queues = lab.solution_dir, lab.manifest.checkpoints.queues
    print(
        f"[bench] lab {lab.id}: {rounds} rounds; each API runs {processes} uvicorn process(es) "
        f"and is flooded by {connections} connections for {LOAD_SECONDS:g} s",
        flush=True,
    )
    delete_queues(queues)  # another lab's checkpoints may have declared them with other arguments
    try:
        for variant in variants:
            start_api(variant, processes, code_dir)
        raws = run_rounds(
            variants,
            rounds=rounds,
            connections=connections,
            code_dir=code_dir,
            env=env,
            queues=queues,
            progress=lambda line: print(f"[bench] {line}", flush=True),
        )
    finally:
        for variant in variants:
            if variant.api is not None:
                variant.api.stop()
        purge_queues(queues)
    print()
    print(report(raws, variants, processes, connections))
    return 0
