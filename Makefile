# The few commands a developer runs every day. Each one sets up .venv first if needed.
SHELL := bash
PY := .venv/bin/python
export PYTHONPATH := functions:.
UV := .tools/uv/bin/uv

.PHONY: run test lint format check-template periodic-template requirements bench upload redrive tasks event build deploy clean

.venv/.synced: pyproject.toml uv.lock scripts/bootstrap
	scripts/bootstrap
	touch $@

## run: the whole system on this machine (embedded AWS, API, worker); Ctrl-C stops it and saves
##      its state in .local-run/ for the next run; CLEAN=1 starts empty
run: .venv/.synced
	$(PY) -m infra.local

## test: every test (unit, functional, runtime under awslambdaric, end to end, infra)
test: .venv/.synced
	$(PY) -m pytest

## lint: formatting, lint and types
lint: .venv/.synced
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy

format: .venv/.synced
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## check-template: sam validate, cfn-lint and checkov on template.yaml
check-template: .venv/.synced
	scripts/check-template

## periodic-template: print template.yaml's schedules for the @periodic tasks in the code
periodic-template: .venv/.synced
	@$(PY) -m app.tasks.periodic_template

## requirements: regenerate functions/requirements.txt (what sam build installs) from uv.lock
requirements: .venv/.synced
	$(UV) export --frozen --no-dev --no-hashes --no-emit-project --quiet -o functions/requirements.txt

## bench: the benchmarks; each prints ratios against a baseline measured in the same run
bench: .venv/.synced
	$(PY) -m bench.post_response
	$(PY) -m bench.worker_overhead
	$(PY) -m bench.no_loss
	$(PY) -m bench.task_costs
	$(PY) -m bench.cold_start
	$(PY) -m bench.json_bodies

## upload: upload FILE through the API's presigned POST (POST /uploads) and print its key (make upload FILE=a.csv)
upload: .venv/.synced
	$(PY) -m infra.local.upload $(FILE)

## redrive: move dead-lettered tasks back to the task queue (the local stack's, unless TASK_QUEUE_URL is set)
redrive: .venv/.synced
	$(PY) -m infra.local.redrive $(ARGS)

## tasks: the local stack's recent tasks as a table; WATCH=1 (or ARGS=--watch) redraws it every second
tasks: .venv/.synced
	$(PY) -m infra.local.tasks $(if $(WATCH),--watch) $(ARGS)

## event: write the sam local invoke event of a route (make event ROUTE="POST /word-count/"),
##        from the app's OpenAPI schema; NAME=, QUERY= and BODY= set its file name and request
event: .venv/.synced
	@$(PY) -m infra.new_event $(if $(NAME),--name '$(NAME)') $(if $(QUERY),--query '$(QUERY)') $(if $(BODY),--body '$(BODY)') $(if $(ROUTE),'$(ROUTE)')

## build: sam build with the pinned SAM CLI into .aws-sam/build (functions/Makefile: locked
##        dependencies for the template's Architecture, unchecked-hash bytecode)
build: .venv/.synced
	scripts/sam-build

## deploy: check credentials, region and parameters, build, then sam deploy with the pinned
##         SAM CLI; guided the first time (it asks for the parameters and saves them in
##         samconfig.toml); GUIDED=1 asks again
deploy: .venv/.synced
	scripts/sam-deploy --check
	scripts/sam-build
	scripts/sam-deploy

clean:
	rm -rf .venv .tools .aws-sam .pytest_cache .mypy_cache .ruff_cache
