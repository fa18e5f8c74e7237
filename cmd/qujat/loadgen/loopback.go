package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// CheckLoopback parses raw as the service's base URL and refuses anything
// but http(s) to a loopback address: an IP literal in 127.0.0.0/8 or ::1,
// or "localhost" when every address it resolves to is a loopback one. The
// load generator is for one's own machine, never someone else's service.
// It returns the URL without a trailing slash.
func CheckLoopback(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("--url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("--url: scheme must be http or https, not %q", u.Scheme)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--url: give only scheme, host and port (such as http://127.0.0.1:8080)")
	}
	host := u.Hostname()
	if host == "" {
		return "", fmt.Errorf("--url: no host")
	}
	if !isLoopbackHost(host, net.DefaultResolver.LookupIPAddr) {
		return "", fmt.Errorf("--url: %q is not a loopback address; bench drives only a service on this machine", host)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host, "/"), nil
}

// isLoopbackHost tells whether host is a loopback IP literal, or a name
// (localhost only) whose every address is loopback.
func isLoopbackHost(host string, lookup func(context.Context, string) ([]net.IPAddr, error)) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	if !strings.EqualFold(host, "localhost") {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return false
		}
	}
	return true
}
