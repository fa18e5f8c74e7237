// Package web is Qujat's server-rendered pages, for people who open a
// share's QR link or type its short code in an ordinary browser:
//
//   - GET /s/{token} (a browser's Accept): sign in on the page (IIN, then
//     the code sent to the registered phone, through signin.Service with
//     the API's rules and limits), then a button redeems the share through
//     sharing.Service, the same redemption as POST /v1/shares/redeem (single
//     use, a view in both histories with its log leaf); the document is
//     then shown at /view/{view id}. A used, expired or revoked share is a
//     410 page, an unknown link a 404 page.
//   - GET /verify: the owner's IIN and the six-digit code, then the same
//     sign-in and document page.
//
// Pages are html/template, embedded with their style sheet; they need no
// JavaScript and load nothing from another origin (Content-Security-Policy:
// ContentSecurityPolicy). They speak kk (the default), ru and en: ?lang=,
// else Accept-Language. Interface texts are the embedded messages.json;
// document titles and field labels come through Pages.documentText.
//
// Sessions are cookies holding a random id; the session lives in the
// short-lived store under the id's keyed hash and ends after SessionIdle
// without a request or at sign-out. Every POST must come from this origin
// (Sec-Fetch-Site, when the browser sends it) and carry the session's CSRF
// token. The API mounts the pages (api.Deps.Pages).
package web
