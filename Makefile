# Shardis developer targets. See README.md.
CARGO ?= cargo

.PHONY: all build release run test lint fmt bench fuzz-build clean cluster-up cluster-down chaos

all: build

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release -p shardis

## One node owning every slot, embedded default config, on 127.0.0.1:6379.
run: release
	./target/release/shardis

## Everything CI runs: formatting, lints, unit, property, integration and differential tests.
test:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Shardis and redis-server side by side under the same redis-benchmark load.
bench: release
	bash scripts/bench.sh

## Local 3-node cluster (client ports 7001-7003, data under target/cluster/), in the background.
cluster-up:
	bash scripts/cluster.sh up

cluster-down:
	bash scripts/cluster.sh down

## Long randomized fault runs against a 3-node cluster of release builds, history checked for
## linearizability; figures printed. DURATION in seconds (default 120), SEED to replay a run.
chaos:
	$(CARGO) build --release -p shardis
	DURATION=$(DURATION) SEED=$(SEED) $(CARGO) test --release -p cluster-tests --test scenarios chaos -- --ignored --nocapture

clean:
	$(CARGO) clean

## Builds the cargo-fuzz target (installs cargo-fuzz when missing). Run it with
## `cd node && cargo fuzz run request_parser` (RUSTC_BOOTSTRAP=1 on a stable toolchain).
fuzz-build:
	command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	cd node && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build -O request_parser
