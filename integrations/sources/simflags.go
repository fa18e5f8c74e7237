package sources

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qujat/qujat/wallet"
)

// SourceDurations maps source names to durations, e.g. the latency the
// simulator adds. As a flag.Value it reads "transport=3s,education=1s" and
// accumulates over repeated flags.
type SourceDurations map[string]time.Duration

// SourceRates maps source names to rates between 0 and 1, e.g. the share of
// requests the simulator fails. As a flag.Value it reads
// "population=0.2,transport=0.5".
type SourceRates map[string]float64

// SourceSet is a set of source names. As a flag.Value it reads
// "education,transport" ("all" names every source).
type SourceSet map[string]bool

// ParseSourceDurations parses "name=duration,..." (durations as in
// time.ParseDuration, not negative). EINVALID lists every problem.
func ParseSourceDurations(s string) (SourceDurations, error) {
	var m SourceDurations
	return m, m.Set(s)
}

// ParseSourceRates parses "name=rate,..." (rates from 0 to 1). EINVALID
// lists every problem.
func ParseSourceRates(s string) (SourceRates, error) {
	var m SourceRates
	return m, m.Set(s)
}

// ParseSourceSet parses "name,name,..." or "all". EINVALID lists every problem.
func ParseSourceSet(s string) (SourceSet, error) {
	var m SourceSet
	return m, m.Set(s)
}

// Set adds the entries of s to m.
func (m *SourceDurations) Set(s string) error {
	if *m == nil {
		*m = SourceDurations{}
	}
	return parsePairs(s, func(name, value string) error {
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return fmt.Errorf("%s: %q is not a duration such as 1.5s", name, value)
		}
		(*m)[name] = d
		return nil
	})
}

func (m SourceDurations) String() string {
	return formatPairs(m, func(d time.Duration) string { return d.String() })
}

// Set adds the entries of s to m.
func (m *SourceRates) Set(s string) error {
	if *m == nil {
		*m = SourceRates{}
	}
	return parsePairs(s, func(name, value string) error {
		r, err := strconv.ParseFloat(value, 64)
		if err != nil || r < 0 || r > 1 {
			return fmt.Errorf("%s: %q is not a rate from 0 to 1", name, value)
		}
		(*m)[name] = r
		return nil
	})
}

func (m SourceRates) String() string {
	return formatPairs(m, func(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) })
}

// Set adds the names in s to m.
func (m *SourceSet) Set(s string) error {
	if *m == nil {
		*m = SourceSet{}
	}
	var problems []error
	for _, name := range splitList(s) {
		switch {
		case name == "all":
			for _, n := range SourceNames() {
				(*m)[n] = true
			}
		case !KnownSource(name):
			problems = append(problems, unknownSourceError(name))
		default:
			(*m)[name] = true
		}
	}
	return joinProblems(problems)
}

func (m SourceSet) String() string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ",")
}

func parsePairs(s string, set func(name, value string) error) error {
	var problems []error
	for _, item := range splitList(s) {
		name, value, ok := strings.Cut(item, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		switch {
		case !ok:
			problems = append(problems, fmt.Errorf("%q: want source=value", item))
		case !KnownSource(name) && name != "all":
			problems = append(problems, unknownSourceError(name))
		case name == "all":
			for _, n := range SourceNames() {
				if err := set(n, value); err != nil {
					problems = append(problems, err)
					break
				}
			}
		default:
			if err := set(name, value); err != nil {
				problems = append(problems, err)
			}
		}
	}
	return joinProblems(problems)
}

func formatPairs[V any](m map[string]V, format func(V) string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+format(m[k]))
	}
	return strings.Join(parts, ",")
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func unknownSourceError(name string) error {
	return fmt.Errorf("unknown source %q (known: %s)", name, strings.Join(SourceNames(), ", "))
}

// joinProblems returns nil or an EINVALID error listing every problem.
func joinProblems(problems []error) error {
	if len(problems) == 0 {
		return nil
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Error()
	}
	return &wallet.Error{Code: wallet.EINVALID, Message: strings.Join(msgs, "; ")}
}
