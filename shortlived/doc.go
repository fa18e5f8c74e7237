// Package shortlived is the home of the short-lived store's adapters: data
// that expires on its own within minutes (OTP challenges, share entries and
// short codes, consent challenges, rate-limit counters), kept in process
// memory (memstore, the embedded default) or in Redis (redisstore). The
// interface, wallet.ShortLivedStore, lives in the domain; both adapters pass
// the conformance suite in shortlivedtest. Sign-in (otp), sharing, consent
// and the API's rate limits all use it, so it belongs to none of them.
package shortlived
