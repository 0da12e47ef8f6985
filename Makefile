# The two commands of the README: `make demo` (train the default preset) and `make test`.
# Each does its own set-up on a fresh Debian machine: system packages, .venv, datasets.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Debian packages: datasets (emoji, openclipart, papirus) and cairo for SVG icons; the fonts of cjk-fonts
# and the second icon theme of icons-papirus-numix.
APT_PACKAGES := fonts-noto-color-emoji unicode-data openclipart-png papirus-icon-theme libcairo2 \
                fonts-arphic-ukai fonts-arphic-uming fonts-wqy-zenhei fonts-noto-cjk numix-icon-theme-circle
TORCH  := torch==2.13.0

.PHONY: demo test lint bench system venv clean

demo: venv
	$(PY) -m ganvas train --preset emoji-dcgan-32

test: venv
	$(PY) -m ruff check ganvas tests bench
	$(PY) -m pytest

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
	touch $@

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
