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

# make test-gpu: the device tests (tests/devices.py) and the end-to-end GPU
# tests (tests/test_gpu.py) on @cupy:0 only; without a GPU each is skipped
# with the reason. SYSTEM_PYTHON=1 runs them with $(PYTHON) as it is (the
# caller sets PYTHONPATH: experiments/gpu_check.sh on a bare GPU machine
# given wheels) instead of installing .venv.
SYSTEM_PYTHON ?=
TEST_PYTHON = $(if $(SYSTEM_PYTHON),$(PYTHON),$(BIN)/python)

.PHONY: install test test-paper test-gpu docs reproduce reproduce-ventura clean

install: $(STAMP)

# Chainer 7.8.1 is a source archive whose setup.py needs pkg_resources:
# build it without pip's isolated environment, with setuptools < 75
# (docs/paper-notes.rst, "The software stack").
$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip 'setuptools<75' wheel
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation chainer==7.8.1
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation -e '.[$(EXTRAS)]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

# The documentation site (Sphinx) into docs/_build/html, warnings as
# errors; make test builds it too (tests/test_docs.py).
docs: install
	$(BIN)/python -m sphinx -b html -W --keep-going -E -q docs docs/_build/html

test-paper: install
	$(BIN)/python -m pytest tests -m paper_scale $(PYTEST_ARGS)

test-gpu: $(if $(SYSTEM_PYTHON),,install)
	DEEP_IMPRESSION_TEST_DEVICE=@cupy:0 $(TEST_PYTHON) -m pytest tests -m 'device or gpu' --continue-on-collection-errors $(PYTEST_ARGS)

# Synthetic data, preprocessing, the three-phase training (shortened, see
# experiments/configs/quick.json), evaluation and Tables 1 and 2; with
# DATA=/path/to/chalearn the paper's 900 epochs (configs/paper.json).
reproduce: install
	$(BIN)/python experiments/reproduce.py --out $(RUN) $(if $(DATA),--data $(DATA),)

# Ventura et al. (2017) on DAN+ / CAM-DAN+ and synthetic faces (Table 1,
# face overlap, units, Table 2; experiments/configs/ventura-quick.json).
reproduce-ventura: install
	$(BIN)/python experiments/reproduce_ventura.py --out runs/ventura

clean:
	rm -rf $(VENV) build *.egg-info docs/_build
