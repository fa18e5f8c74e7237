package api

import (
	"net"
	"net/http"

	"github.com/labstack/echo/v4"
)

// ipv6Prefix is how much of an IPv6 address names one client: a /64 is
// what one subscriber is usually given, so counting addresses inside it
// apart would let one client make 2^64 of them.
const ipv6Prefix = 64

// clientAddress returns the extractor behind c.RealIP(), the address that
// the rate limiters count and that a share's viewer is known by. Without
// trusted proxies it is the peer's address. With them, X-Forwarded-For is
// read only when the peer is one of them, and the client is the rightmost
// address that is not (a client can prepend anything to the header, but
// not what the proxies append). IPv6 addresses are reduced to their /64.
func clientAddress(trusted []*net.IPNet) echo.IPExtractor {
	extract := echo.ExtractIPDirect()
	if len(trusted) > 0 {
		// echo trusts loopback, link-local and private addresses by
		// default: only the configured ranges are trusted here.
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range trusted {
			opts = append(opts, echo.TrustIPRange(n))
		}
		extract = echo.ExtractIPFromXFFHeader(opts...)
	}
	return func(r *http.Request) string { return addressKey(extract(r)) }
}

// addressKey is an address as the limits count it: an IPv4 address as is
// (also when written as IPv4-mapped IPv6), an IPv6 address as its /64.
func addressKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil {
		return addr
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	mask := net.CIDRMask(ipv6Prefix, 128)
	return (&net.IPNet{IP: ip.Mask(mask), Mask: mask}).String()
}
