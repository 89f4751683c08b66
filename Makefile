# The two commands of the README: `make run` and `make test`. Each bootstraps
# whatever is missing (tools/bootstrap is a no-op in seconds when all is there).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/.venv/bin:$(PATH)
export CT_CONFIG_DIR := $(CURDIR)/.tools/etc/ct

CHARTS := $(wildcard charts/*)
PYTEST_ARGS ?=

.PHONY: run test lint golden bootstrap bootstrap-all bench clean-tools

bootstrap:
	@tools/bootstrap

# Everything the whole test suite needs: the local control plane, real servers and the
# real node's images too.
bootstrap-all:
	@tools/bootstrap --cluster --servers --images

## make run: render, validate and check every chart in charts/ over its matrix
run: bootstrap
	chartmatrix run $(CHARTS)

## make test: lint, then the whole pytest suite (charts, library, tester, cluster, servers)
test: bootstrap-all lint
	pytest $(PYTEST_ARGS)

## make lint: chart-testing lint on every chart, ruff, actionlint
lint: bootstrap
	ct lint --all --config ct.yaml
	ruff check .
	ruff format --check .
	actionlint

## make golden: rewrite golden files after a reviewed change
golden: bootstrap
	chartmatrix run --update-golden

## make bench: chartmatrix beside helm template + kubeconform and helm-unittest, same cases
bench: bootstrap
	chartmatrix bench

## make clean-tools: forget this clone's links (the per-version cache stays)
clean-tools:
	rm -rf .tools .venv
