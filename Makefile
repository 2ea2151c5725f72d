# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# TensorFlow's C++ INFO lines hidden, its warnings and errors shown; the commands
# (electra_tf_launcher) also drop the lines TensorFlow prints whatever the level and its
# false alarms (no CUDA driver, oneDNN data types). TF_CPP_MIN_LOG_LEVEL=0 make run shows all.
export TF_CPP_MIN_LOG_LEVEL ?= 1
export KERAS_BACKEND := tensorflow

RUN_DIR ?= runs/zh_small
RUN_STEPS ?= 300
# Debian's classical Chinese poems, unpacked into the project (no system install).
FORTUNES_CACHE := .cache/fortunes-zh
export FORTUNES_ZH_DIR := $(CURDIR)/$(FORTUNES_CACHE)/usr/share/games/fortunes

.PHONY: run test install install-test fortunes notebooks benchmark clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed-data: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[data]'
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,study]'
	touch $@

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

# Pre-trains zh_small on the default Chinese corpus (300 steps of batch 32),
# fine-tunes its discriminator on Chinese sentiment and People's Daily NER with the
# configs/finetune/zh_small.json recipe (2 epochs on 8,000 examples each), exports the
# sentiment classifier for TF Serving and queries the export from a TensorFlow-only process.
run: install
	$(PY) scripts/pretrain.py --config zh_small --default_corpus --model_dir $(RUN_DIR) \
	    --vocab_size 8000 --train_steps $(RUN_STEPS) --batch_size 32 --sequence_length 128 \
	    --checkpoint_steps 100
	$(PY) scripts/finetune.py --task classification --dataset chinese_sentiment \
	    --init_from $(RUN_DIR) --model_dir $(RUN_DIR)-sentiment --recipe zh_small \
	    --sample_texts 这本书很好看,质量太差了
	$(PY) scripts/finetune.py --task ner --dataset peoples_daily_ner \
	    --init_from $(RUN_DIR) --model_dir $(RUN_DIR)-ner --recipe zh_small \
	    --sample_texts 江泽民在北京会见克林顿
	$(PY) scripts/export.py --model_dir $(RUN_DIR)-sentiment --export_dir $(RUN_DIR)-serving \
	    --model_name sentiment
	$(PY) -m electra_tf_launcher electra_tf/export/standalone.py predict $(RUN_DIR)-serving/sentiment \
	    这本书很好看 质量太差了 物流很快，包装完好

# Two pytest workers, one per core: most of a test's time is single-threaded
# tf.function tracing. `loadfile` keeps each module's fixtures in one worker.
TEST_WORKERS ?= 2
test: install-test fortunes
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# Runs every notebook in a fresh kernel and writes the executed copies (with
# their outputs and figures) to docs/notebooks/; the notebooks themselves stay
# without outputs.
notebooks: install-test
	$(PY) notebooks/execute.py --output_dir docs/notebooks

benchmark: install
	$(PY) benchmarks/pretrain_step.py

clean:
	rm -rf runs build *.egg-info .pytest_cache .cache
