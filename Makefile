# tenantsync: make demo (the main job on local stand-ins) and make test are all a fresh machine
# with Go, Node and npm needs; everything else is installed into the repository by these targets.

GO       ?= go
BIN      := bin
NODE_BIN := node_modules/.bin
GOFLAGS  ?=

.PHONY: all build demo run sim test cover bench bench-go vet fmt deps clean package deploy chromium

all: build

# npm ci installs exactly package-lock.json into ./node_modules (Azurite).
$(NODE_BIN)/azurite-table: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(NODE_BIN)/azurite-table
	$(GO) mod download

local.settings.json:
	cp local.settings.sample.json local.settings.json
	@echo "created local.settings.json from local.settings.sample.json"

build: local.settings.json
	$(GO) build $(GOFLAGS) -o $(BIN)/handler ./cmd/handler
	$(GO) build $(GOFLAGS) -o $(BIN)/funchost ./cmd/funchost
	$(GO) build $(GOFLAGS) -o $(BIN)/demo ./cmd/demo
	$(GO) build $(GOFLAGS) -o $(BIN)/msftsim ./cmd/msftsim
	$(GO) build $(GOFLAGS) -o $(BIN)/tenantsync ./cmd/tenantsync

# Simulator scenario for demo, run and sim: demo (one tenant per failure mode), large (1,000
# tenants), storm (30 tenants under a 429/503 throttling storm) or a scenario JSON file.
SCENARIO ?= demo

# The main job end to end on Azurite, the local host and the handler; prints what happened.
demo: deps build
	$(BIN)/demo -scenario $(SCENARIO)

# The same stack, kept serving until Ctrl-C.
run: deps build
	$(BIN)/demo -serve -scenario $(SCENARIO)

# The Microsoft cloud simulator on its own: prints its endpoints and CA file.
sim: build
	$(BIN)/msftsim -scenario $(SCENARIO) -dir .sim

# The deployment zip: a static linux/amd64 handler, host.json and the function folders.
package:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags='-s -w' -o dist/handler ./cmd/handler
	$(GO) run ./cmd/package -root . -handler dist/handler -o dist/functionapp.zip

# Into your Azure subscription (az CLI): RESOURCE_GROUP=... [APP_CLIENT_ID=...] make deploy
deploy:
	infra/deploy.sh

# The console's browser tests drive Debian's chromium (headless); installed when absent.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium package for the console's browser tests (apt-get install -y chromium)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: deps local.settings.json chromium
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	@# One run gives the results and each package's coverage by its own tests (checked by .ci/cover).
	@{ $(GO) test -count=1 -race -cover -timeout 30m ./... 2>&1; echo $$? > .test.rc; } | tee .test.out
	@test "$$(cat .test.rc)" = 0
	COVER_FROM=.test.out .ci/cover

# Each product package's statement coverage by its own tests; fails when the sync engine or
# discovery is under 80%, or another product package of 300+ non-test lines under 70% (.ci/cover).
cover: deps local.settings.json chromium
	GO=$(GO) .ci/cover

# make bench (cmd/bench): tenantsync on the local stack (simulator, Azurite, local host, handler)
# syncing the large scenario end to end, a no-change and a changed resync, the console's page
# times and the handler's start, next to a naive msgraph-sdk-go integrator syncing the same
# tenants; prints the figures and writes .bench/summary.json. Not part of make test. Knobs:
# BENCH_TENANTS (scenario size, 1000), BENCH_RESYNC_TENANTS (100), BENCH_PEER_TENANTS (200),
# BENCH_PEER_CONCURRENCY (16), BENCH_READY_RUNS (30), BENCH_CONSOLE_REPS (10).
export BENCH_TENANTS BENCH_RESYNC_TENANTS BENCH_PEER_TENANTS BENCH_PEER_CONCURRENCY BENCH_READY_RUNS BENCH_CONSOLE_REPS
bench: deps build
	$(GO) build $(GOFLAGS) -o $(BIN)/bench ./cmd/bench
	$(BIN)/bench

# The Go benchmarks: a sync of BENCH_GO_TENANTS tenants of the large scenario in process, the
# 1,000-tenant fan-out, the storage layer, the scenario generator, and the console's page server
# time with BENCH_CONSOLE_TENANTS (1,000) tenants of BENCH_CONSOLE_USERS (200) seeded users.
BENCH_GO_TENANTS ?= 25
bench-go: deps
	BENCH_TENANTS=$(BENCH_GO_TENANTS) $(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./shared/localdev/bench ./shared/store ./shared/localdev/sim/scenario

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) dist .demo .funchost .sim .bench
