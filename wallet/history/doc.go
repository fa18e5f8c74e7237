// Package history is the seam between the wallet's state and its history
// log: it turns a wallet.Change (the writes, and the events, views and
// document versions that record them) into one historylog.Change whose
// entries carry the wallet's rows, and commits it, so that every state
// change is stored in the same transaction as its leaves, or not at all.
// The Recorder is the service's wallet.Committer.
//
// The history log itself (package historylog) knows only opaque entries
// and pseudonymous parties; this package decides what a view, an event or
// a document version looks like as an entry: its kind, its parties and its
// payload. Audit checks the other direction: every view, event and
// document version in the store has its leaf, the leaf commits to the row
// as it is now, and every document's version chain is whole.
package history
