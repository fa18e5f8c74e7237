// Package sharing opens temporary access to one document: share grants, QR
// tokens and six-digit short codes kept in a wallet.ShortLivedStore, and
// their redemption by an authenticated viewer. The short-lived store has two
// implementations, sharing/redisstore (production) and sharing/memstore (the
// embedded default), both held to the suite in sharing/sharingtest.
package sharing
