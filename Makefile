# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2
export KERAS_BACKEND := tensorflow

RUN_DIR ?= runs/zh_small
RUN_STEPS ?= 300

.PHONY: run test install install-test benchmark clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed-data: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[data]'
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed-data
install-test: $(VENV)/.installed-test

# Pre-trains zh_small on the default Chinese corpus (~5 minutes on 2 CPU cores).
run: install
	$(PY) scripts/pretrain.py --config zh_small --default_corpus --model_dir $(RUN_DIR) \
	    --vocab_size 8000 --train_steps $(RUN_STEPS) --batch_size 32 --sequence_length 128 \
	    --checkpoint_steps 100

test: install-test
	$(PY) -m pytest -q

benchmark: install
	$(PY) benchmarks/pretrain_step.py

clean:
	rm -rf runs build *.egg-info .pytest_cache
