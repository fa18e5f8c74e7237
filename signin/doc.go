// Package signin is how a citizen signs in to the app and stays signed in.
// It owns:
//
//   - the OTP sign-in: Start looks the IIN up in the population registry
//     (wallet.Directory) and writes a one-time password's SMS to the phone
//     the registry lists to the durable outbox (otp.Service, purpose
//     "signin"; outbox.Queue), which a worker delivers; Finish exchanges the
//     challenge and its code for a token pair and a device token;
//   - budgets: each request spends its requester's budgets (its address's,
//     or a known device's) and a shared one of the phone, so that nobody
//     can spend the owner's (CodesPerAddress);
//   - decoys: an IIN the registry does not know gets an otp decoy challenge
//     (otp.Service.FakeChallenge) instead of an error, the same in shape,
//     limits and answers to wrong codes, with a decoy message written the
//     same way and never sent, so that the sign-in does not reveal who is
//     registered, by its answer or by its timing;
//   - token pairs: a short-lived access token, minted by an
//     AccessTokenIssuer (the HTTP server's signer), and an opaque refresh
//     token, kept only as its hash (wallet.Hasher) in a wallet.SessionStore;
//   - rotation: every refresh exchanges the refresh token for the next one
//     of its family (the tokens of one sign-in), with a new access token;
//   - family revocation on reuse: a refresh token presented after it was
//     rotated, even by two concurrent callers, means someone else holds a
//     copy, so the whole family is revoked and every token of it refused;
//   - logout: revoking the family of the token presented;
//   - revoked sessions: a family revoked by logout or reuse is listed in the
//     short-lived store (Service.Revoked) for as long as its access tokens
//     live, and the API refuses them (SessionRevoked).
//
// How access tokens are signed, sent and checked (JWT, audiences, bearer
// headers) is HTTP plumbing and stays in package api.
package signin
