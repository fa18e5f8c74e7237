// Package faults holds the fault suite (Issue 13, item 6): a test that
// starts its own PostgreSQL and redis-server as child processes, builds the
// whole service on them (service.Build with wallet/postgres and
// shortlived/redisstore, PostgreSQL reached through an in-test TCP proxy),
// drives concurrent share issuance and redemption with Idempotency-Keys
// through HTTP, and meanwhile kills, restarts and stalls each dependency
// and loses the answers to COMMITs. It then checks the invariants against
// the database and prints a one-line summary (see docs/faults.md).
//
// The package has no non-test code.
package faults
