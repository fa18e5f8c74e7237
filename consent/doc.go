// Package consent is the domain service of the integration API: organisations
// (banks, insurers, agencies) admitted by the authority ask for named types of
// a citizen's documents with a stated purpose, the citizen decides, and only
// a live grant releases documents, each release recorded as a view in both
// parties' histories.
//
// # Lifecycle
//
// A request is stored pending with RequestExpiresAt = now + Limits.RequestTTL
// and sent to the phone the population registry lists for the citizen (never
// a phone the organisation names). The citizen decides by one of:
//
//   - otp: an SMS carries a six-digit code that the citizen reads out to the
//     organisation, which submits it (SubmitOTP);
//   - sms_reply: an SMS asks the citizen to reply YES or NO with the
//     request's random 4-digit number, "YES 4821" (Inbound): the number,
//     kept hashed with the phone in the short-lived store while the request
//     lives, binds the reply to that one request; a reply without it answers
//     nothing. Each gateway message is accepted once (its id is remembered
//     for longer than InboundWindow, and older messages are refused);
//   - app: nothing is sent; the request shows in the citizen's list.
//
// The SMS are written in the citizen's language (Service.Language: their
// stored preference, Kazakh by default), from package locale's catalogue;
// a reply is understood in any of the three (YES/NO, ИӘ/ЖОҚ, ДА/НЕТ).
//
// The citizen may also approve or deny any pending request in the app,
// whatever its method: an authenticated citizen in the app is at least as
// sure a sign of consent as a code read out over the phone.
//
// Stored statuses are pending, granted, denied and revoked; the effective
// status (Status) also says expired: pending past RequestExpiresAt, granted
// past GrantExpiresAt. Every method returns consents with their effective
// status in Status. Transitions go through the store's compare-and-swap
// (wallet.ConsentStore.UpdateConsent): pending → granted or denied while the
// request is live (EEXPIRED after), granted → revoked while the grant is live
// (EEXPIRED after); anything else is ECONFLICT ("consent already decided").
// Of concurrent deciders exactly one wins. Each transition, and each request,
// appends an event to the citizen's history.
//
// # Choices
//
// Identity documents and banks. A bank (client kind bank) asking for an
// identity card or a passport is refused (EFORBIDDEN) even if it is admitted
// for them: the rules of the service say financial organisations identify
// their customers by documents presented in person, so a bank receives them
// only when the citizen presents a QR code or a short code at its counter
// (sharing, with the bank's client credentials as the viewer). Other types,
// and other kinds of organisation, keep remote consent.
//
// Unknown IIN. Request answers ENOTFOUND for an IIN the registry does not
// know. That tells an organisation whether someone is registered, which the
// citizen sign-in endpoint carefully does not; it is accepted here because
// organisations are admitted by the authority, must already know their
// customer's IIN, are rate limited, and a request that silently went nowhere
// would leave them waiting ten minutes for nothing.
//
// Delivery. The SMS of an otp or sms_reply request is written, sealed, to
// the durable outbox in the transaction that stores the request and its
// event (wallet.QueueMessage), and delivered by the outbox worker with
// retries; Request never waits for the gateway. If the message cannot be
// delivered before half the request's time has passed (before its code
// expires, for otp), the worker gives it up and DeliveryFailed marks the
// request denied by the system (event consent_denied with details
// reason=delivery_failed). Nothing is deleted, so the citizen's history
// still shows that the organisation asked, and a request nobody could
// have seen can never be granted later.
//
// Wrong codes. SubmitOTP passes the OTP service's answers through: a wrong
// code is EINVALIDCODE with AttemptsLeft, and once three wrong codes have
// killed the challenge every further code is EEXPIRED. The request itself
// stays pending until it expires, so the citizen may still approve it in the
// app; no code can grant it.
//
// Codes. An otp request's code is an otp.Service challenge with purpose
// "consent" and the consent id as its subject (the OTP service refuses
// purposes with a colon, so "consent:<id>" cannot be the purpose); SubmitOTP
// finds the challenge through the short-lived store and checks its subject
// is the consent, so a code sent for one request never grants another. A
// code lives as long as the OTP service says (five minutes by default),
// shorter than the request; after that the request can still be approved in
// the app until it expires. Consent codes spend the OTP service's
// "consent" budgets of the phone (per organisation and in all), never the
// sign-in ones, so that nobody asking for someone's sign-in codes blocks an
// organisation's request, nor one organisation another's.
//
// Release race. Release checks the grant, records one view per document, and
// then reads the consent once more: if it was revoked (or expired) meanwhile,
// nothing is released and the answer is EEXPIRED. So a revocation that
// committed before the release's final read is always honoured, and a
// release that returns documents was covered by a live grant at a moment
// after all its views were durable. The price: when a revocation lands in
// that short window, the views are already recorded although nothing left,
// so the history may overstate (never understate) what was released.
package consent
