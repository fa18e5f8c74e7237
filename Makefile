# Qujat: the two everyday commands are `make run` and `make test`.
GO ?= go
PKGS := ./...

.PHONY: run test test-short vet fmt build bench ci

## run: serve on the embedded default (SQLite in ./data, in-memory short-lived store, demo registry, SMS outbox)
run:
	$(GO) run ./cmd/qujat serve

## test: the whole suite with the race detector. PostgreSQL and Redis suites run when
## TEST_DATABASE_URL / TEST_REDIS_URL are set and skip otherwise
## (QUJAT_TEST_REQUIRE_SERVICES=1 makes them mandatory, as .ci/run does). The last
## line says which real-service suites ran and which were skipped, and why.
test:
	$(GO) vet $(PKGS)
	sh scripts/test-services.sh $(GO) test -race -count=1 -timeout 35m $(PKGS)

## test-short: the quick suite (-short): no test that starts a server of its own
## (the service, the registry simulator, redis-server) or walks the service through.
test-short:
	sh scripts/test-services.sh $(GO) test -short -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

build:
	$(GO) build -o bin/qujat ./cmd/qujat

## bench: Go benchmarks with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

## ci: what .ci/run does, on this machine
ci:
	bash .ci/run
