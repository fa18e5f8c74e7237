package signin

import (
	"strings"

	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/wallet"
)

// Sign-in codes one phone receives per fixed hour. The budgets are the
// requester's: an address spends its own and the phone's shared one; a
// device the citizen signed in on before (it presents its device token)
// spends a reserve that nobody without such a token can touch. So an
// attacker hammering someone's IIN from many addresses can use up the
// shared budget, but the citizen still signs in from a known device, and
// from a new address while the attacker has one.
const (
	CodesPerAddress      = 3 // per phone, from one address (IPv6: one /64)
	CodesPerPhone        = 5 // per phone, from every address together
	CodesPerDevice       = 3 // per phone, from one known device
	CodesPerKnownDevices = 3 // per phone, from all known devices together
)

// MaxCodesPerHour is the most sign-in codes one phone can receive in a
// fixed hour.
const MaxCodesPerHour = CodesPerPhone + CodesPerKnownDevices

// Requester is who asks for a sign-in code.
type Requester struct {
	// Address is the client's address as the limits key it (api's
	// addressKey: an IPv6 address reduced to its /64).
	Address string
	// DeviceToken is the token Finish gave this device at an earlier
	// sign-in of the same citizen ("" if none).
	DeviceToken string
}

// budgets are the send budgets of a request for iin's code from r.
func (s *Service) budgets(iin wallet.IIN, r Requester) []otp.Budget {
	if id, ok := s.deviceOf(iin, r.DeviceToken); ok {
		return []otp.Budget{{Name: "device:" + id, Limit: CodesPerDevice}, {Name: "devices", Limit: CodesPerKnownDevices}}
	}
	addr := r.Address
	if addr == "" {
		addr = "unknown"
	}
	return []otp.Budget{{Name: "addr:" + addr, Limit: CodesPerAddress}, {Name: "all", Limit: CodesPerPhone}}
}

// Device tokens are "dvc_<id>.<mac>": a random device id and a keyed MAC
// binding it to the citizen. They are not secrets of any weight: one lets
// its holder ask for codes sent to the citizen's own phone from the known
// devices' reserve, nothing more.
const devicePrefix = "dvc_"

// newDeviceToken returns a device token of iin for a new device.
func (s *Service) newDeviceToken(iin wallet.IIN) (string, error) {
	id, err := wallet.RandomToken(s.rand(), 12)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "could not create device token")
	}
	return devicePrefix + id + "." + s.deviceMAC(iin, id), nil
}

// deviceOf returns the device id of token if it is a device token of iin.
func (s *Service) deviceOf(iin wallet.IIN, token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, devicePrefix)
	if !ok || len(token) > 128 {
		return "", false
	}
	id, mac, ok := strings.Cut(rest, ".")
	if !ok || id == "" || !s.Hasher.Equal(mac, s.deviceMAC(iin, id)) {
		return "", false
	}
	return id, true
}

func (s *Service) deviceMAC(iin wallet.IIN, id string) string {
	return s.Hasher.Hash("signin-device", string(iin)+"\x00"+id)[:32]
}
