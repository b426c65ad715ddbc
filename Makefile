# Inbound: the two commands a new machine needs are `make run` (the service
# on the embedded default) and `make test` (everything CI checks).

GOLANGCI_VERSION := v2.15.0
BIN              := $(CURDIR)/.bin
GOLANGCI         := $(BIN)/golangci-lint
GO_FILES          = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*')
# A count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" when a duration -fuzztime expires while a
# worker is mid-run (golang/go#75804, fixed in Go 1.27); a count has no
# deadline to race.
FUZZTIME         ?= 50000x

.PHONY: run cardnet test fmt-check vet lint openapi-lint unit fuzz bench build clean load-short chaos-short chaos-ci

run:
	go run ./cmd/inbound

cardnet:
	go run ./cmd/cardnet

build:
	CGO_ENABLED=0 go build -trimpath -o bin/inbound ./cmd/inbound
	CGO_ENABLED=0 go build -trimpath -o bin/cardnet ./cmd/cardnet

## test: format check, vet, lint, the OpenAPI lint, the race-enabled test suite and short fuzz runs.
test: fmt-check vet lint openapi-lint unit fuzz chaos-ci

fmt-check:
	@out=$$(gofmt -l $(GO_FILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	go vet ./...

$(GOLANGCI):
	GOBIN=$(BIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

lint: $(GOLANGCI)
	$(GOLANGCI) run ./...

# Redocly CLI (recommended rules) on both generated OpenAPI documents; needs
# npx, and fails without it when CI is set.
openapi-lint:
	scripts/openapi-lint.sh

# -race needs cgo and a C compiler. Without them (CGO_ENABLED=0, or no cc on
# the PATH) the suite still runs, without the race detector, and says so; CI
# has gcc, so CI always runs with -race.
unit:
	@if [ "$$(go env CGO_ENABLED)" = "1" ] && command -v "$$(go env CC)" >/dev/null 2>&1; then \
		echo "go test -race -count=1 -timeout 20m ./..."; \
		go test -race -count=1 -timeout 20m ./...; \
	else \
		echo "make unit: no C compiler or CGO_ENABLED=0, running WITHOUT -race (install gcc to enable it)"; \
		go test -count=1 -timeout 20m ./...; \
	fi

# Every fuzz target of a parser of outside input runs briefly; a crash fails.
fuzz:
	@for target in $$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed 's/func //' | sort -u); do \
		pkg=$$(dirname $$(grep -rlE "^func $$target\(" --include='*_test.go' . | head -1)); \
		echo "fuzz $$target in $$pkg, $(FUZZTIME) executions"; \
		go test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

bench:
	go test -run='^$$' -bench=. -benchmem ./...

## load-short: a 20 s load run with no faults against an embedded replica
## the tool starts itself; prints the verdict, writes load-report/.
load-short:
	CGO_ENABLED=0 go build -trimpath -o bin/inbound ./cmd/inbound
	./bin/inbound load -scenario short -report load-report

## chaos-short: a 60 s chaos run (docs/RELIABILITY.md): two replicas on a
## PostgreSQL and a Redis the tool starts itself on their own ports, a
## replica killed at 10 s, Redis at 25 s, the card network at 40 s; exits 1
## on any violation of the verdict. Under CI, `make test` runs it (chaos-ci).
chaos-short:
	CGO_ENABLED=0 go build -trimpath -o bin/inbound ./cmd/inbound
	./bin/inbound load -scenario chaos -report chaos-report

# Under CI the short chaos scenario runs on its own, after the race-enabled
# suite (docs/RELIABILITY.md); elsewhere `make chaos-short` runs it.
chaos-ci:
	@if [ -n "$$CI" ]; then INBOUND_CHAOS=1 go test -count=1 -timeout 10m -run '^TestLoadChaosShort$$' ./cmd/inbound/; else echo "chaos-ci: runs under CI only (make chaos-short runs it here)"; fi

clean:
	rm -rf bin .bin
