// Package loadgen is the load generator behind `qujat bench`: it drives a
// running Qujat service over HTTP on the loopback interface and measures,
// in the same run and at the same concurrency, the raw servers the service
// stands on (single-row INSERT commits on PostgreSQL or SQLite, Redis round
// trips), so that every figure can be read as a ratio to the baseline that
// bounds it.
//
// A run prepares its own citizens: it signs a dozen demo citizens (picked
// at random, so that runs spread over the per-phone limit of five codes an
// hour) in once through the development SMS outbox (/v1/dev/citizens,
// /v1/dev/sms), splits them into owners (who have documents) and viewers,
// and reuses their access tokens, refreshing them before they expire. Each phase then runs for a set
// duration at a set concurrency:
//
//   - issue: POST /v1/documents/{id}/shares (no PNG), single-use shares;
//   - redeem-token: POST /v1/shares/redeem {"token"} of shares issued before
//     the phase (each single-use share redeemed once, by a viewer who is not
//     its owner);
//   - redeem-code: POST /v1/shares/redeem {"short_code", "owner_iin"}, only
//     correct codes, so that no wrong-code limit is touched;
//   - qr: GET qr_url, cycling through more shares than the service's QR
//     cache holds, so that every request draws an image;
//   - list: GET /v1/documents.
//
// A phase written NAME@F (such as redeem-token@0.7) runs NAME paced at F
// times the rate NAME reached earlier in the run, with latency measured from
// each request's scheduled start, so that queueing in the client counts.
//
// Shares that a phase needs are issued before it starts and are not part of
// its measurement. Phases stop by themselves: at the end of the duration or
// when their pool of shares runs out.
package loadgen
