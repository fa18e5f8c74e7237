#!/usr/bin/env bash
# The README's walk-through as one script, against a running service on the
# embedded default or on PostgreSQL and Redis (with the development SMS outbox):
#   QUJAT=bin/qujat B=http://127.0.0.1:8080 scripts/walkthrough.sh
# It signs in two demo citizens, lists, verifies, shares and redeems (by token
# and by short code), registers a bank that asks for consent by OTP, releases
# and revokes it, and reads a ward's documents as a guardian. Run
# `qujat audit verify` with the service's environment afterwards: every view,
# event and document version it made has its leaf. Needs curl and jq.
set -euo pipefail
B=${B:-http://127.0.0.1:8080}
QUJAT=${QUJAT:-go run ./cmd/qujat}
fail() { echo "walkthrough: $*" >&2; exit 1; }

signin() { # signin IIN PHONE → prints an access token
  local ch code
  ch=$(curl -sf -XPOST "$B/v1/auth/otp" -H 'Content-Type: application/json' -d "{\"iin\":\"$1\"}" | jq -r .challenge_id)
  code=$(curl -sf "$B/v1/dev/sms?to=$(printf %s "$2" | sed 's/+/%2B/')" | jq -r '.messages[0].text' | grep -o '[0-9]\{6\}')
  curl -sf -XPOST "$B/v1/auth/token" -H 'Content-Type: application/json' \
    -d "{\"challenge_id\":\"$ch\",\"code\":\"$code\"}" | jq -r .access_token
}
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

A=$(signin 880412310009 +77011234567) # the owner
V=$(signin 800519347947 +77072675825) # a viewer

DOC=$(curl -sf "$B/v1/documents" -H "Authorization: Bearer $A" | jq -r '.documents[0].id')
JWS=$(curl -sf "$B/v1/documents/$DOC" -H "Authorization: Bearer $A" | jq -r .jws)
[ "$(curl -sf -XPOST "$B/v1/verify" -H 'Content-Type: application/json' -d "{\"jws\":\"$JWS\"}" | jq -r .valid)" = true ] || fail "the document does not verify"

SH=$(curl -sf -XPOST "$B/v1/documents/$DOC/shares" -H "Authorization: Bearer $A")
TOKEN=$(echo "$SH" | jq -r .token)
[ "$(status "$(echo "$SH" | jq -r .qr_url)" -H "Authorization: Bearer $A")" = 200 ] || fail "no QR image"
curl -sf -XPOST "$B/v1/shares/redeem" -H "Authorization: Bearer $V" -H 'Content-Type: application/json' \
  -d "{\"token\":\"$TOKEN\"}" | jq -e .log_index >/dev/null || fail "redemption by token"
[ "$(status -XPOST "$B/v1/shares/redeem" -H "Authorization: Bearer $V" -H 'Content-Type: application/json' \
  -d "{\"token\":\"$TOKEN\"}")" = 410 ] || fail "a used share was redeemed again"
CODE=$(curl -sf -XPOST "$B/v1/documents/$DOC/shares" -H "Authorization: Bearer $A" | jq -r .short_code)
curl -sf -XPOST "$B/v1/shares/redeem" -H "Authorization: Bearer $V" -H 'Content-Type: application/json' \
  -d "{\"short_code\":\"$CODE\",\"owner_iin\":\"880412310009\"}" | jq -e .log_index >/dev/null || fail "redemption by code"
SID=$(curl -sf -XPOST "$B/v1/documents/$DOC/shares" -H "Authorization: Bearer $A" | jq -r .id)
[ "$(status -XDELETE "$B/v1/shares/$SID" -H "Authorization: Bearer $A")" = 204 ] || fail "revoke a share"
curl -sf "$B/v1/views?as=owner" -H "Authorization: Bearer $A" | jq -e '.views | length >= 2' >/dev/null || fail "owner's views"

CLIENT=$($QUJAT clients create --name "Demo Bank" --kind bank --document-types vehicle_registration,driving_licence)
ID=$(echo "$CLIENT" | awk '/^client_id:/ {print $2}')
SECRET=$(echo "$CLIENT" | awk '/^client_secret:/ {print $2}')
BANK=$(curl -sf -XPOST "$B/v1/oauth/token" -d grant_type=client_credentials -d "client_id=$ID" -d "client_secret=$SECRET" | jq -r .access_token)
C=$(curl -sf -XPOST "$B/v1/consents" -H "Authorization: Bearer $BANK" -H 'Content-Type: application/json' \
  -d '{"iin":"880412310009","document_types":["vehicle_registration"],"purpose":"Car loan application","method":"otp"}' | jq -r .id)
OTP=$(curl -sf "$B/v1/dev/sms?to=%2B77011234567" | jq -r '.messages[0].text' | grep -o '[0-9]\{6\}')
curl -sf -XPOST "$B/v1/consents/$C/otp" -H "Authorization: Bearer $BANK" -H 'Content-Type: application/json' -d "{\"code\":\"$OTP\"}" >/dev/null
curl -sf "$B/v1/consents/$C/documents" -H "Authorization: Bearer $BANK" | jq -e '.documents | length == 1' >/dev/null || fail "consent release"
curl -sf -XDELETE "$B/v1/me/consents/$C" -H "Authorization: Bearer $A" >/dev/null
[ "$(status "$B/v1/consents/$C/documents" -H "Authorization: Bearer $BANK")" = 410 ] || fail "a revoked consent released"

curl -sf "$B/v1/wards/150621515423/documents" -H "Authorization: Bearer $A" | jq -e '.documents | length >= 1' >/dev/null || fail "ward's documents"
echo "walkthrough: OK"
