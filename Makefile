# robosmplx: `make demo` and `make test` are all a new machine needs (each runs `make setup`).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

# Every ROS process started from here keeps DDS discovery on this host and logs in the repo.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export ROS_LOG_DIR := $(CURDIR)/.ros_log
export FASTDDS_DEFAULT_PROFILES_FILE := $(CURDIR)/config/fastdds_local.xml
# numpy: no spinning OpenBLAS helper thread (it steals the second core from MediaPipe/torch)
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: setup test test-slow demo bench clean

setup:
	@VENV=$(VENV) bash tools/setup_env.sh

test: setup
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: setup
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/robosmplx demo --out out/demo

bench: setup
	$(PY) benchmarks/body_model_speed.py --out out/benchmarks/body_model_speed.json
	$(PY) benchmarks/detector_speed.py --out out/benchmarks/detector_speed.json
	$(PY) benchmarks/solver_speed.py --out out/benchmarks/solver_speed.json
	$(PY) benchmarks/pipeline_speed.py --out out/benchmarks/pipeline_speed.json
	$(PY) benchmarks/smoothing_quality.py --out out/benchmarks/smoothing_quality.json
	$(PY) benchmarks/synthetic_speed.py --out out/benchmarks/synthetic_speed.json
	$(PY) benchmarks/node_latency.py --out out/benchmarks/node_latency.json
	$(PY) benchmarks/train_step_speed.py --out out/benchmarks/train_step_speed.json

clean:
	rm -rf build out .ros_log .pytest_cache
