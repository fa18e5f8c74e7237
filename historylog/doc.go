// Package historylog keeps one append-only, tamper-evident Merkle log of
// every history event: a view, a share opened or revoked, codes voided, a
// consent requested, granted, denied or revoked.
//
// The tree is RFC 6962's (leaf hash = SHA-256(0x00 ‖ leaf), node hash =
// SHA-256(0x01 ‖ left ‖ right)), built, stored and proved with
// golang.org/x/mod/sumdb/tlog. After every batch the Log signs a checkpoint
// in the C2SP tlog-checkpoint form (origin, tree size, base64 root hash)
// with an Ed25519 note key (golang.org/x/mod/sumdb/note).
//
// # Leaves
//
// A leaf holds no personal data in clear (see Leaf for the exact bytes): a
// 128-bit random salt, the event kind and time, a commitment SHA-256(salt ‖
// payload) to the event's payload, and its parties. One event is one leaf,
// whatever the number of its parties: a view is a leaf with two parties, the
// document's owner and the viewer. Each party is a pseudonym, HMAC-SHA256
// under the log's subject key (not the server's pepper) of the subject (an
// IIN, or "org:" and an organisation client id), with that subject's
// sequence number (1, 2, ...) and the log index of that subject's previous
// leaf (-1 before the first). Every subject thus has its own chain through
// the log: dropping one of its events, even with the tree rebuilt and
// re-signed, breaks the chain at the next one (Audit reports it). Dropping a
// subject's latest events and re-signing is caught only by comparing with a
// checkpoint published earlier (a consistency proof): that is what
// checkpoints handed to parties and witnesses are for.
//
// The payload (what a history item shows) is stored apart from the leaf and
// may be erased when its retention ends; every proof still verifies without
// it, and while it is kept it can be checked against the leaf.
//
// # Group commit and the seam
//
// Log.Commit hands a Change (an opaque state for the store to apply, and
// the entries that record it) to one sequencer goroutine, which takes
// whatever has queued up (up to Config.MaxBatch entries) and runs it as one
// store transaction that it drives (LogStore.BeginAppend, AppendTx.Apply,
// AppendTx.Commit): the states applied, each on its own, under the log's
// append lock; the leaves of the changes that applied, with their records
// and one new signed checkpoint; one commit. Commit returns only after that
// transaction committed, with the indexes of the change's leaves; if the
// batch fails, every caller in it gets the error and nothing of the batch
// is stored, states included. The log knows nothing of what the states and
// records are: the wallet's side is package wallet/history. Several
// processes on one database take turns under the append lock, and each
// batch is built on the size read under it, so a batch never starts
// anywhere but at the end of the log.
package historylog
