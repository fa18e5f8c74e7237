#!/bin/sh
# test-services.sh COMMAND [ARG...]
#
# Runs COMMAND (make test's go test) with QUJAT_TEST_SERVICES_LOG naming a
# fresh file, in which the tests record whether they ran against PostgreSQL
# and Redis or were skipped, and why (package internal/servicetest). Then it
# prints one line summing that up, as the last line of the output, and exits
# with COMMAND's status. A test counts once, under its top-level name, with
# the worst that happened to any of its subtests: failed, skipped, ran.
log=$(mktemp -t qujat-services.XXXXXX) || exit 1
summaries=$(mktemp -t qujat-summaries.XXXXXX) || { rm -f "$log"; exit 1; }
trap 'rm -f "$log" "$summaries"' EXIT
trap 'exit 130' INT TERM

QUJAT_TEST_SERVICES_LOG=$log QUJAT_TEST_SUMMARY_LOG=$summaries "$@"
status=$?

# Summaries the tests wrote (servicetest.Summary), such as the fault
# suite's: go test without -v shows no output of a passing package.
cat "$summaries"

awk '
function label(s) {
	if (s == "postgres") return "PostgreSQL"
	if (s == "redis") return "Redis"
	if (s == "redis-server") return "redis-server started by tests"
	if (s == "redis-cluster") return "Redis Cluster started by tests"
	if (s == "postgres-server") return "PostgreSQL started by tests"
	if (s == "chromium") return "Chromium (browser tests)"
	return s
}
function tests(n) { return n == 1 ? "1 test" : n " tests" }
BEGIN {
	nservices = split("postgres redis redis-server redis-cluster postgres-server chromium", order, " ")
	for (i = 1; i <= nservices; i++) seen[order[i]] = 1
}
# Lines: SERVICE STATUS PACKAGE TEST[: REASON]
NF >= 4 {
	test = $4
	sub(/:$/, "", test)
	sub(/\/.*/, "", test)
	key = $1 SUBSEP $3 SUBSEP test
	rank = $2 == "failed" ? 3 : $2 == "skipped" ? 2 : 1
	if (rank > best[key]) {
		best[key] = rank
		service[key] = $1
		why[key] = rank > 1 ? substr($0, index($0, ": ") + 2) : ""
	}
	if (!(($1) in seen)) { seen[$1] = 1; order[++nservices] = $1 }
}
END {
	for (k in best) {
		s = service[k]
		if (best[k] == 1) { ran[s]++; continue }
		g = s SUBSEP best[k] SUBSEP why[k]
		if (!(g in count)) { groups[++ngroups] = g }
		count[g]++
	}
	line = ""
	for (i = 1; i <= nservices; i++) {
		s = order[i]
		if (ran[s]) line = line (line == "" ? "" : ", ") label(s) " (" tests(ran[s]) ")"
	}
	out = "real-service suites: ran " (line == "" ? "none" : line)
	for (r = 2; r <= 3; r++) {
		line = ""
		for (i = 1; i <= nservices; i++) {
			s = order[i]
			part = ""
			for (j = 1; j <= ngroups; j++) {
				split(groups[j], f, SUBSEP)
				if (f[1] == s && f[2] == r) part = part (part == "" ? "" : "; ") tests(count[groups[j]]) ": " f[3]
			}
			if (part != "") line = line (line == "" ? "" : ", ") label(s) " (" part ")"
		}
		if (r == 2) out = out "; skipped: " (line == "" ? "none" : line)
		if (r == 3 && line != "") out = out "; required but missing: " line
	}
	print out
}' "$log"

exit $status
