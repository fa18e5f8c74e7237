package main

import "testing"

func TestPhonesCannotOpen_LoopbackAndUnspecifiedAddresses(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:8080":       true,
		"http://127.1.2.3":            true,
		"http://[::1]:8080":           true,
		"http://[::]:8080":            true,
		"http://0.0.0.0:8080":         true,
		"http://localhost:8080":       true,
		"http://LOCALHOST.:8080":      true,
		"http://app.localhost":        true,
		"http://192.168.1.20:8080":    false,
		"http://10.0.0.5":             false,
		"https://qujat.example.kz":    false,
		"https://[2001:db8::1]:8443/": false,
	} {
		if got := phonesCannotOpen(u); got != want {
			t.Errorf("phonesCannotOpen(%q) = %v, want %v", u, got, want)
		}
	}
}
