package sources

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/qujat/qujat/wallet"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvSources = "QUJAT_SOURCES"
	EnvSecret  = "QUJAT_SOURCES_SECRET"
)

// minSecretLen is the shortest secret accepted: 16 bytes, like 128 bits of
// hex or base64 would be longer still.
const minSecretLen = 16

// Config says which source registries to call. An empty Config (no
// registries) means: use the built-in demo registry.
type Config struct {
	// Registries in the order given; the population entry also serves the
	// citizen directory.
	Registries []Registry
	// Secret is the shared HMAC secret that signs requests.
	Secret string
}

// Registry is one source registry's address.
type Registry struct {
	Source  string
	BaseURL string
}

// Enabled reports whether any registry is configured.
func (c Config) Enabled() bool { return len(c.Registries) > 0 }

// ParseConfig parses the value of QUJAT_SOURCES: comma-separated
// source=URL entries, e.g.
//
//	population=http://127.0.0.1:9090,transport=http://127.0.0.1:9090,education=http://127.0.0.1:9090
//
// or a single URL serving every known source. Each known source may appear
// once; population is required (it is also the directory). An empty string
// gives an empty Config. The Secret is left empty. EINVALID lists every
// problem at once.
func ParseConfig(s string) (Config, error) {
	var cfg Config
	s = strings.TrimSpace(s)
	if s == "" {
		return cfg, nil
	}
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, EnvSources+": "+fmt.Sprintf(format, args...))
	}
	entries := splitList(s)
	if len(entries) == 1 && !strings.Contains(entries[0], "=") {
		if err := checkBaseURL(entries[0]); err != nil {
			bad("%v", err)
		} else {
			for _, name := range SourceNames() {
				cfg.Registries = append(cfg.Registries, Registry{Source: name, BaseURL: normalizeURL(entries[0])})
			}
		}
	} else {
		seen := make(map[string]bool)
		for _, e := range entries {
			name, u, ok := strings.Cut(e, "=")
			name, u = strings.TrimSpace(name), strings.TrimSpace(u)
			switch {
			case !ok:
				bad("%q is not source=url", e)
				continue
			case !KnownSource(name):
				bad("unknown source %q (known: %s)", name, strings.Join(SourceNames(), ", "))
				continue
			case seen[name]:
				bad("source %s is listed twice", name)
				continue
			}
			seen[name] = true
			if err := checkBaseURL(u); err != nil {
				bad("%s: %v", name, err)
				continue
			}
			cfg.Registries = append(cfg.Registries, Registry{Source: name, BaseURL: normalizeURL(u)})
		}
		if !seen[Population] {
			bad("no population entry (it serves the citizen directory)")
		}
	}
	if len(problems) > 0 {
		return Config{}, &wallet.Error{Code: wallet.EINVALID, Message: strings.Join(problems, "; ")}
	}
	return cfg, nil
}

// ConfigFromEnv reads QUJAT_SOURCES and QUJAT_SOURCES_SECRET through getenv
// (os.Getenv in production). The secret is required, at least 16
// characters, when registries are configured. EINVALID lists every problem.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg, err := ParseConfig(getenv(EnvSources))
	var problems []string
	if err != nil {
		problems = append(problems, wallet.ErrorMessage(err))
	}
	secret := getenv(EnvSecret)
	switch {
	case strings.TrimSpace(getenv(EnvSources)) == "":
	case secret == "":
		problems = append(problems, EnvSecret+": required when "+EnvSources+" is set")
	case len(secret) < minSecretLen:
		problems = append(problems, fmt.Sprintf("%s: shorter than %d characters", EnvSecret, minSecretLen))
	}
	if len(problems) > 0 {
		return Config{}, &wallet.Error{Code: wallet.EINVALID, Message: strings.Join(problems, "; ")}
	}
	cfg.Secret = secret
	return cfg, nil
}

// NewClients returns a client per configured registry and the directory
// client of the population registry. base supplies the settings shared by
// all (Timeout, Retries, HTTPClient, ...); its BaseURL, Source and Secret
// are replaced by the Config's. EINVALID if the Config is incomplete.
func (c Config) NewClients(base ClientConfig) ([]wallet.Source, wallet.Directory, error) {
	var (
		srcs []wallet.Source
		dir  wallet.Directory
	)
	for _, r := range c.Registries {
		cfg := base
		cfg.BaseURL, cfg.Source, cfg.Secret = r.BaseURL, r.Source, c.Secret
		cl, err := NewClient(cfg)
		if err != nil {
			return nil, nil, err
		}
		srcs = append(srcs, cl)
		if r.Source == Population {
			if dir, err = NewDirectoryClient(cfg); err != nil {
				return nil, nil, err
			}
		}
	}
	if dir == nil {
		return nil, nil, wallet.Errorf(wallet.EINVALID, "no population registry configured")
	}
	return srcs, dir, nil
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a url", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: want an http:// or https:// url", s)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("put no credentials in the url (the secret is in %s)", EnvSecret)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q: a base url has no query or fragment", s)
	}
	return nil
}

func normalizeURL(s string) string { return strings.TrimSuffix(s, "/") }
