# Lighthouse: `make run` starts everything, `make test` runs every test.
BIN := $(CURDIR)/bin
GO  ?= go
# The project `make run` guards (PROJECT=DIR for another).
PROJECT ?= .
export GOFLAGS := -buildvcs=false

.PHONY: build run test soak bench deps vet

build:
	$(GO) build -o $(BIN)/ ./cmd/...

run: build
	$(BIN)/lighthouse up --project $(PROJECT)

deps:
	./scripts/deps.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)

test: deps build vet
	LIGHTHOUSE_BIN=$(BIN) $(GO) test -count=1 -timeout 20m ./...

# The long fault run, not part of `make test`: hundreds of kill -9 cycles
# and a fuzzing budget per target (SOAK_CYCLES, SOAK_WRITERS, FUZZTIME).
soak: build
	LIGHTHOUSE_BIN=$(BIN) GO=$(GO) ./scripts/soak.sh

bench: build
	$(BIN)/lighthouse bench
