# Queue Labs: every entry point. `make help` lists them.
# Each target sets up what it needs first (the virtual environment from the
# lock file), so any of them works on a fresh clone.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV  := .venv
QL    := $(VENV)/bin/queuelabs
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.synced
UV     = $(shell scripts/bootstrap-uv.sh)

LAB  ?=
EX   ?=
CODE ?= exercise
STOP ?=
NAME ?=

.PHONY: help setup up down doctor status logs demo test check hint progress starter \
        watch reset jump room join leave stop start loadtest locust bench chaos notebooks screenshots compose-config prove lint clean test-docker

# `make help` in three groups; a new target goes in one of them (tests/test_make_help.py checks).
LEARNER_TARGETS    := setup up down status doctor logs demo lab% stop start check watch hint progress reset notebooks join leave loadtest locust bench
TRAINER_TARGETS    := room jump scale cluster manage chaos
MAINTAINER_TARGETS := help starter lint prove test test-docker compose-config screenshots clean
TARGET_LINES = grep -hE '^[a-z0-9%-]+:.*\#\# ' $(MAKEFILE_LIST)
# $(call targets,LIST): the targets of LIST with their descriptions, or (LIST empty) those of no group.
targets = $(TARGET_LINES) | awk -F':.*\#\# ' -v want=" $(1) " -v all=" $(LEARNER_TARGETS) $(TRAINER_TARGETS) $(MAINTAINER_TARGETS) " \
	'(want != "  " ? index(want, " " $$1 " ") : !index(all, " " $$1 " ")) { t = $$1; sub(/^lab%$$/, "labNN", t); printf "  make %-16s %s\n", t, $$2 }'

help: ## list the targets, by who uses them, and every variable
	@echo "Queue Labs. Start with: make demo, then read labs/01-sync-vs-async/README.md"
	@echo; echo "Learners:"; $(call targets,$(LEARNER_TARGETS))
	@echo; echo "Trainers:"; $(call targets,$(TRAINER_TARGETS))
	@echo; echo "Maintainers:"; $(call targets,$(MAINTAINER_TARGETS))
	@$(call targets,) | sed '1s/^/\nIn no group (add it to one in the Makefile):\n/'
	@echo
	@echo "Variables:"
	@echo "  LAB=02          a lab (loadtest: LAB=02,03 compares two)   EX=2.1        one exercise (check, hint)"
	@echo "  CODE=exercise   exercise (yours), solution, or a folder    COLD=1        check: restart every process"
	@echo "  STOP=1          stop instead of start (labNN, room...)     NAME=lab02-worker  one process or service"
	@echo "  FOLLOW=1        logs: keep following                       ALL=1         hint: every hint"
	@echo "  BATCH=200       demo: submit a batch and watch the queue   LOAD=2        prove: under 2 busy CPUs"
	@echo "  SERIAL=1        test: make prove after the tests, on the same servers (the default without root)"
	@echo "  ROW=partition   chaos: only the rows whose title holds one of these comma-separated words"
	@echo "  ARGS=...        manage: manage.py's arguments              ADDR=...      room: the LAN address to serve on"
	@echo "  NEW=1           room: a new room                           ROOM= CODE= NAME=  join (from the environment)"
	@echo "  API=3 WORKERS=3 RATE=... USERS=... COMPARE=1   scale       PROCESSES=2 CONNECTIONS=32 ROUNDS=5   bench"

setup: $(STAMP) ## create .venv from the lock file (quick when nothing changed)

$(STAMP): pyproject.toml uv.lock scripts/bootstrap-uv.sh
	@echo "[setup] installing the pinned Python packages into $(VENV) (uv sync --frozen)"
	@$(UV) sync --frozen --quiet
	@touch $@

up: setup ## start RabbitMQ, Redis and MongoDB (Docker if an engine answers, else natively)
	@$(QL) up

down: setup ## stop everything the project started (lab processes and servers)
	@$(QL) down

doctor: setup ## at the door: Python, architecture, free ports, disk, packages offline, each service; one PASS/FAIL line each
	@$(QL) doctor

status: setup ## each service, whether it answers, and the URLs
	@$(QL) status

logs: setup ## the last lines of every log (NAME=lab02 for one, or add FOLLOW=1)
	@$(QL) logs $(NAME) $(if $(FOLLOW),--follow)

demo: setup ## bring everything up and tour the finished system (BATCH=200: then watch a queue fill)
	@$(QL) demo $(if $(BATCH),--batch $(BATCH))

lab%: setup ## start lab NN's processes, reloading on save: make lab02 (CODE=solution, STOP=1)
	@$(QL) lab $* --code $(CODE) $(if $(STOP),--stop)

stop: setup ## stop one service or lab process: make stop NAME=redis, make stop NAME=lab02-worker
	@test -n "$(NAME)" || { echo "which one? make stop NAME=lab02-worker (or redis, rabbitmq, mongodb)"; exit 2; }
	@$(QL) stop $(NAME)

start: setup ## start it again: make start NAME=redis, make start NAME=lab02-worker
	@test -n "$(NAME)" || { echo "which one? make start NAME=lab02-worker (or redis, rabbitmq, mongodb)"; exit 2; }
	@$(QL) start $(NAME) --code $(CODE)

.PHONY: cluster
cluster: setup ## lab 05's ground: RabbitMQ cluster of 3, MongoDB replica set of 3, Redis + replica + 3 Sentinels (STOP=1)
	@$(QL) cluster $(if $(STOP),--stop)

manage: setup ## lab 03's manage.py with the lab's own database: make manage ARGS=createsuperuser (CODE=solution: the reference's)
	@$(QL) manage $(ARGS) --code $(CODE)

.PHONY: scale manage
scale: setup ## nginx on :8080 before N API replicas + N workers: make scale LAB=02 API=3 WORKERS=3 (STOP=1; COMPARE=1 measures 1 vs 3)
	@$(QL) scale $(or $(LAB),02) --api $(or $(API),3) --workers $(or $(WORKERS),3) $(if $(RATE),--rate $(RATE)) $(if $(STOP),--stop) $(if $(COMPARE),--compare) $(if $(USERS),--users $(USERS))

chaos: setup ## the fault suite against a lab's reference, native stack (about 7 min): make chaos LAB=04 [ROW=partition]
	@test -n "$(LAB)" || { echo "which lab? make chaos LAB=04"; exit 2; }
	@$(QL) dev chaos $(LAB) $(if $(ROW),--row "$(ROW)")

check: setup ## grade your exercises: make check LAB=02, one exercise: make check EX=2.3 (COLD=1: restart every process)
	@$(QL) check $(LAB) --code $(CODE) $(if $(EX),--exercise $(EX)) $(if $(COLD),--cold)

watch: setup ## re-grade the exercise you edit on every save: make watch LAB=02 (Ctrl+C to stop)
	@test -n "$(LAB)" || { echo "which lab? make watch LAB=02"; exit 2; }
	@$(QL) watch $(LAB) --code $(CODE)

room: setup ## the whole workshop live on one page: make room [ADDR=192.168.1.20] (STOP=1, NEW=1)
	@$(QL) room $(if $(ADDR),--addr $(ADDR)) $(if $(STOP),--stop) $(if $(NEW),--new)

join: setup ## send your make check / make watch grades to the room: make join ROOM=<url> CODE=<code> NAME=<name>
	@$(QL) join --room "$$ROOM" --code "$$CODE" --name "$$NAME"  # from the environment: any name, quotes included

leave: setup ## stop sending your grades to the room
	@$(QL) leave

hint: setup ## the next hint of one exercise: make hint EX=2.1 (ALL=1 for every hint)
	@test -n "$(EX)" || { echo "which exercise? make hint EX=2.1"; exit 2; }
	@$(QL) hint $(EX) $(if $(ALL),--all)

progress: setup ## every lab, every exercise: done or not
	@$(QL) progress

reset: setup ## put a lab's untouched starter back: make reset LAB=02 (your work is backed up)
	@test -n "$(LAB)" || { echo "which lab? make reset LAB=02"; exit 2; }
	@$(QL) reset $(LAB)

jump: setup ## solve every lab before LAB with the reference: make jump LAB=02
	@test -n "$(LAB)" || { echo "which lab? make jump LAB=02"; exit 2; }
	@$(QL) jump $(LAB)

loadtest: setup ## headless Locust run with CSV/HTML reports: make loadtest LAB=02 (LAB=02,03: both, compared)
	@test -n "$(LAB)" || { echo "which lab? make loadtest LAB=02"; exit 2; }
	@$(QL) loadtest $(LAB)

locust: setup ## the Locust web UI on http://127.0.0.1:8089: make locust LAB=02
	@test -n "$(LAB)" || { echo "which lab? make locust LAB=02"; exit 2; }
	@$(QL) locust $(LAB)

bench: setup ## naive, reference and tuned APIs side by side, same load, one run: make bench LAB=02 [PROCESSES=2] [CONNECTIONS=32] [ROUNDS=5]; LAB=05: one node vs the cluster
	@$(QL) dev bench $(or $(LAB),02) $(if $(PROCESSES),--processes $(PROCESSES)) $(if $(ROUNDS),--rounds $(ROUNDS)) $(if $(CONNECTIONS),--connections $(CONNECTIONS))

screenshots: setup ## re-take docs/screenshots/ (headless Chromium, lab 02 under load; about 2 min)
	@$(QL) dev screenshots

notebooks: setup ## JupyterLab on http://127.0.0.1:8888 with the notebooks (installed by make setup)
	@$(VENV)/bin/jupyter lab --ip 127.0.0.1 --port 8888 --no-browser $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

starter: setup ## regenerate every lab's exercise/ from solution/
	@$(QL) starter --write

compose-config: setup ## validate docker-compose.yml with the real Compose CLI (no engine needed)
	@$(QL) compose config --quiet && echo "docker-compose.yml: valid (with and without the lab profiles)"
	@$(QL) compose --profile '*' config --quiet

test-docker: setup ## docker-compose.yml on a real Docker engine (a task to SUCCESS, lost permissions repaired, a dying worker fails up --wait)
	@$(PY) -m pytest tests/test_compose_engine.py --docker

lint: setup ## ruff lint and format check over the whole repository
	@$(VENV)/bin/ruff check --quiet . && $(VENV)/bin/ruff format --check --quiet . && echo "lint: ruff check and ruff format --check pass"

prove: setup ## every solution passes, every untouched starter and every mutant fails (LOAD=2: under 2 busy CPUs)
	@$(QL) prove $(LAB) $(if $(LOAD),--load $(LOAD))

test: setup ## everything CI runs (as root, prove runs beside the tests on servers of its own; SERIAL=1: after them)
	@echo "== 1/6 lint (ruff)"
	@$(MAKE) --no-print-directory lint
	@echo "== 2/6 the committed starters match the generator"
	@$(QL) starter  # strict under CI (CI=true); your own work in exercise/ is only noted
	@echo "== 3/6 docker-compose.yml"
	@$(MAKE) --no-print-directory compose-config
	@echo "== 4/6 the stack"
	@$(QL) up
	@# 5/6 the platform's tests; 6/6 make prove beside them (as root: on servers of its own in a
	@# network namespace), or after them (SERIAL=1, or without root). queuelabs/test_streams.py
	@$(QL) dev test $(if $(SERIAL),--serial)

clean: down ## stop everything and delete the run folder (data, logs); your backups in .run/backups are kept
	@find .run -mindepth 1 -maxdepth 1 ! -name backups -exec rm -rf {} + 2>/dev/null || true
	@echo "removed .run/ (data, logs, pids, grades); kept .run/backups/ (your saved exercise folders)"
