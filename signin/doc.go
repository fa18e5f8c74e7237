// Package signin is how a citizen signs in to the app and stays signed in.
// It owns:
//
//   - the OTP sign-in: Start looks the IIN up in the population registry
//     (wallet.Directory) and sends a one-time password to the phone the
//     registry lists (otp.Service, purpose "signin"); Finish exchanges the
//     challenge and its code for a token pair;
//   - decoys: an IIN the registry does not know gets an otp decoy challenge
//     (otp.Service.FakeChallenge) instead of an error, the same in shape,
//     limits and answers to wrong codes, and nothing is sent, so that the
//     sign-in does not reveal who is registered;
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
