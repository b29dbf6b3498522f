# deep-impression: `make reproduce` and `make test` set everything up from a
# fresh clone (a virtual environment in .venv) and run.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  = $(VENV)/.installed$(if $(MPI),-mpi,)
# With no DATA, `make reproduce` makes and uses a synthetic dataset in the
# ChaLearn First Impressions format; DATA=/path/to/chalearn runs the paper.
DATA   ?=
RUN    ?= runs/reproduce
# test-paper runs the paper-scale test (tests/test_paper_scale.py, about
# 3 minutes on 2 quiet cores) alone; make test runs it with the others.
PYTEST_ARGS ?=
# The `mpi` extra (mpi4py and an MPI with .venv/bin/mpiexec, all wheels) for
# training on several processes with ChainerMN and for the 2-rank tests;
# `make install MPI=` leaves it out (those tests are then skipped).
MPI    ?= 1
comma  := ,
# `app` and `app-test` too: tests/test_app.py runs the web page in Chromium.
EXTRAS := test$(comma)app$(comma)app-test$(if $(MPI),$(comma)mpi,)

.PHONY: install test test-paper reproduce clean

install: $(STAMP)

# Chainer 7.8.1 is a source archive whose setup.py needs pkg_resources:
# build it without pip's isolated environment, with setuptools < 75
# (shared/STACK.md).
$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip 'setuptools<75' wheel
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation chainer==7.8.1
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation -e '.[$(EXTRAS)]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

test-paper: install
	$(BIN)/python -m pytest tests -m paper_scale $(PYTEST_ARGS)

# Synthetic data, preprocessing, the three-phase training (shortened, see
# experiments/configs/quick.json), evaluation and Tables 1 and 2; with
# DATA=/path/to/chalearn the paper's 900 epochs (configs/paper.json).
reproduce: install
	$(BIN)/python experiments/reproduce.py --out $(RUN) $(if $(DATA),--data $(DATA),)

clean:
	rm -rf $(VENV) build *.egg-info
