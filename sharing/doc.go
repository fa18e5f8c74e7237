// Package sharing opens temporary access to one document: share grants, QR
// tokens and six-digit short codes kept in a wallet.ShortLivedStore, and
// their redemption by an authenticated viewer: a citizen, or an
// organisation at its counter to which the citizen presents the QR or the
// code (the view then names the organisation, as a consent release does). The short-lived store has two
// implementations, shortlived/redisstore (production) and shortlived/memstore (the
// embedded default), both held to the suite in shortlived/shortlivedtest.
//
// Service is the whole flow. Opening a share writes the durable
// wallet.Share (and a share_opened event in the owner's history) first, then
// these short-lived keys, all expiring with the share:
//
//	sharekey:<id>                      hashes of the token and the code, and the
//	                                   share they lead to with its document, owner
//	                                   and creator (no count of views, no state:
//	                                   a redemption reads no share row, its
//	                                   commit judges)
//	code:<owner>:<gen>:<hash of code>  → share id; codes are scoped to their owner
//	shareqr:<id>                       the token (and the code's key), sealed with
//	                                   AES-256-GCM, to draw the QR image on demand
//
// A token is "<share id>.<192 random bits, base64url>", so the share is found
// from the token itself. A code is found under the owner's current code
// generation (codegen:<owner>); moving the owner to the next generation voids
// all their live codes at once, which happens when wrong codes pile up
// against that owner. The owner is told (codes_voided in their history) and
// may open a new share at once: its code is stored under the generation
// current once it is stored (re-read after the store, so a share opened
// during a void gets a code that works). Wrong codes are also counted per viewer
// (rl:{codeguess}:viewer15m:, rl:{codeguess}:viewerday:, then the citizen's
// IIN or "org:" and the organisation's client id) and per network
// address (rl:{codeguess}:ip:). Each code entered is reserved against all
// these counters and the owner's at once (ShortLivedStore.Reserve, one
// script) before it is looked up, and a right code gives its reservation
// back: a full counter refuses code redemptions before anything is looked
// up, and concurrent guesses never get past the limits.
//
// A redemption finds the share from its token or code in the short-lived
// store, which counts nothing, then asks the durable store's RedeemShare to
// count the view and store it, the one judge of how many views a share
// releases; the document is returned only after that commit. A redemption
// that fails or dies before the commit spends no view. If the short-lived
// store cannot be reached, nothing is released (EUNAVAILABLE); if it lost
// its data, shares stop working (EEXPIRED) rather than the other way round,
// and codes lost with it are answered as such, not counted as guesses.
package sharing
