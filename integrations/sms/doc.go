// Package sms sends text messages through the gateway and reads the replies
// the gateway forwards.
//
// Inbound contract (POST /v1/sms/inbound). The gateway signs the raw body
// (SignInbound, SignatureHeader) and sends one JSON object:
//
//	{"message_id": "…", "from": "+7701…", "text": "YES 4821", "received_at": "2026-11-23T09:00:00Z"}
//
// message_id is the gateway's id of the message, identical on every delivery
// of the same message; received_at is when the gateway received it. Both are
// required (ParseInbound). The service accepts each message id once and
// refuses a message received more than ten minutes ago, so a message
// delivered twice, or a signed call replayed later, answers nothing. The text
// must carry the 4-digit number (RefDigits) that the consent SMS gave
// (ParseReply): it names the one request the reply answers.
package sms
