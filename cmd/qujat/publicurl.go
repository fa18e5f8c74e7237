package main

import (
	"net"
	"net/url"
	"strings"
)

// phonesCannotOpen reports whether the links under publicURL (what QR
// codes encode) point at an address a phone cannot reach: a loopback one
// (127.0.0.1, ::1, localhost) is the phone itself, and an unspecified one
// (0.0.0.0, [::]) is no address at all. The service works, but a QR scanned
// with a phone's camera leads nowhere.
func phonesCannotOpen(publicURL string) bool {
	u, err := url.Parse(publicURL)
	if err != nil {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return true
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}
