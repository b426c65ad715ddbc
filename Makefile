# Inbound: the two commands a new machine needs are `make run` (the service
# on the embedded default) and `make test` (everything CI checks).

GOLANGCI_VERSION := v2.15.0
BIN              := $(CURDIR)/.bin
GOLANGCI         := $(BIN)/golangci-lint
GO_FILES          = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*')
FUZZTIME         ?= 10s

.PHONY: run cardnet test fmt-check vet lint unit fuzz bench build clean

run:
	go run ./cmd/inbound

cardnet:
	go run ./cmd/cardnet

build:
	CGO_ENABLED=0 go build -trimpath -o bin/inbound ./cmd/inbound
	CGO_ENABLED=0 go build -trimpath -o bin/cardnet ./cmd/cardnet

## test: format check, vet, lint, the race-enabled test suite and short fuzz runs.
test: fmt-check vet lint unit fuzz

fmt-check:
	@out=$$(gofmt -l $(GO_FILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	go vet ./...

$(GOLANGCI):
	GOBIN=$(BIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

lint: $(GOLANGCI)
	$(GOLANGCI) run ./...

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
		echo "fuzz $$target in $$pkg for $(FUZZTIME)"; \
		go test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

bench:
	go test -run='^$$' -bench=. -benchmem ./...

clean:
	rm -rf bin .bin
