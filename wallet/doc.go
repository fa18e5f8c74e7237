// Package wallet is the domain at the centre of Qujat: citizens and their
// IINs, documents assembled from source registries, their signed and
// hash-chained versions, shares, views, organisations' consents, history
// events, and the interfaces of the stores that keep them (Store,
// ShortLivedStore) and of the registries that feed them (Source, Directory).
//
// It imports nothing else of this module. Adapters live in subpackages named
// after what they adapt (wallet/postgres, wallet/sqlite, wallet/keyfiles)
// and translate their dependency's errors into the codes of errors.go.
package wallet
