# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# TensorFlow's C++ INFO lines hidden, its warnings and errors shown; the commands
# (electra_tf_launcher) also drop the lines TensorFlow prints whatever the level and its
# false alarms (no CUDA driver, oneDNN data types). TF_CPP_MIN_LOG_LEVEL=0 make run shows all.
export TF_CPP_MIN_LOG_LEVEL ?= 1
export KERAS_BACKEND := tensorflow

RUN_DIR ?= runs/zh_hour_mlm
RUN_SEEDS ?= 0,1
# The pre-trained sentiment classifier (seed 0) that `make run` exports: the study names a
# cell's folder after its arm, budget, task, recipe, seed and method.
RUN_SENTIMENT := $(RUN_DIR)/cells/mlm_1e+14_chinese_sentiment_zh_1k_fair_0_finetune
# Debian's classical Chinese poems, unpacked into the project (no system install).
FORTUNES_CACHE := .cache/fortunes-zh
export FORTUNES_ZH_DIR := $(CURDIR)/$(FORTUNES_CACHE)/usr/share/games/fortunes

.PHONY: run test install install-test fortunes notebooks benchmark bench-env clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed-data: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[data]'
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,study]'
	touch $@

# The benchmarks' PyTorch reference (pretrain_step.py and finetune_step.py, mode `torch`) needs torch and
# transformers beside TensorFlow; they live in a venv of their own so the library's never
# holds them. CPU-only torch comes from PyTorch's own index (PyPI's wheel pulls CUDA).
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[test,study]'
	$(BENCH_VENV)/bin/python -m pip install --quiet torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
	$(BENCH_VENV)/bin/python -m pip install --quiet transformers==5.25.0
	touch $@

bench-env: $(BENCH_VENV)/.installed

install: $(VENV)/.installed-data
install-test: $(VENV)/.installed-test

$(FORTUNES_CACHE)/.done:
	mkdir -p $(FORTUNES_CACHE)
	# Not fatal: without the poems, the poetry tests use People's Daily text instead.
	cd $(FORTUNES_CACHE) && { apt-get download fortunes-zh 2>/dev/null \
	    || { apt-get update -qq && apt-get download fortunes-zh; }; } \
	    && dpkg -x fortunes-zh_*.deb . && touch .done \
	    || echo "warning: could not fetch Debian's fortunes-zh; poems are unavailable"

fortunes: $(FORTUNES_CACHE)/.done

# Pre-trains the one-hour recipe (`zh_hour_mlm`: a masked LM, the objective that pays off
# at this budget, docs/budget_study.md) for 1e14 FLOPs on the default Chinese corpus, in
# bfloat16 where the CPU has AVX512_BF16 or AMX (the preset's dtype_policy "auto"; a start-up
# line says which); fine-tunes it and random weights of the same sizes on 1,000 labels of
# Chinese sentiment and People's Daily NER (early stopping on dev, seeds $(RUN_SEEDS)) and prints them side
# by side; exports the pre-trained sentiment classifier for TF Serving and queries the
# export from a TensorFlow-only process. Run again, it prints the finished table.
run: install
	$(PY) scripts/budget_study.py --config zh_hour_mlm --objectives mlm --budgets_flops 1e14 \
	    --seeds $(RUN_SEEDS) --noprobe --largest_budget_recipes= \
	    --study_dir $(RUN_DIR) --output $(RUN_DIR)/pretrained_vs_random.json
	$(PY) scripts/export.py --model_dir $(RUN_SENTIMENT) --export_dir $(RUN_DIR)/serving \
	    --model_name sentiment
	$(PY) -m electra_tf_launcher electra_tf/export/standalone.py predict $(RUN_DIR)/serving/sentiment \
	    这本书很好看 质量太差了 物流很快，包装完好

# Two pytest workers, one per core: most of a test's time is single-threaded
# tf.function tracing. `loadfile` keeps each module's fixtures in one worker; modules
# go out in tests/conftest.py's order, the longest first.
TEST_WORKERS ?= 2
test: install-test fortunes
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Runs every notebook in a fresh kernel and writes the executed copies (with
# their outputs and figures) to docs/notebooks/; the notebooks themselves stay
# without outputs.
notebooks: install-test
	$(PY) notebooks/execute.py --output_dir docs/notebooks

benchmark: bench-env
	$(BENCH_VENV)/bin/python benchmarks/pretrain_step.py

clean:
	rm -rf runs build *.egg-info .pytest_cache .cache
