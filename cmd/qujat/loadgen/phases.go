package loadgen

import (
	"fmt"
	"strconv"
	"strings"
)

// Phase names.
const (
	PhaseIssue       = "issue"
	PhaseRedeemToken = "redeem-token"
	PhaseRedeemCode  = "redeem-code"
	PhaseQR          = "qr"
	PhaseList        = "list"
)

// DefaultPhases is what runs without --phases: every phase once, then token
// redemption paced at 70 % of the rate it reached (the latency target).
const DefaultPhases = "issue,redeem-token,redeem-code,qr,list,redeem-token@0.7"

var phaseNames = []string{PhaseIssue, PhaseRedeemToken, PhaseRedeemCode, PhaseQR, PhaseList}

// Phase is one step of a run: Kind run closed-loop, or paced at Fraction of
// the rate Kind reached earlier in the run when Fraction > 0.
type Phase struct {
	Kind     string
	Fraction float64
}

// Name is how the phase is written and reported ("redeem-token@0.7").
func (p Phase) Name() string {
	if p.Fraction > 0 {
		return p.Kind + "@" + strconv.FormatFloat(p.Fraction, 'f', -1, 64)
	}
	return p.Kind
}

// ParsePhases parses a comma-separated list of phases. A paced phase
// NAME@F (0 < F ≤ 1) must come after NAME run closed-loop. Empty items are
// ignored; an empty list, an unknown name or a duplicate is an error.
func ParsePhases(s string) ([]Phase, error) {
	var out []Phase
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, frac, paced := strings.Cut(item, "@")
		if !known(name) {
			return nil, fmt.Errorf("unknown phase %q (phases: %s)", name, strings.Join(phaseNames, ", "))
		}
		p := Phase{Kind: name}
		if paced {
			f, err := strconv.ParseFloat(strings.TrimSuffix(frac, "%"), 64)
			if err == nil && strings.HasSuffix(frac, "%") {
				f /= 100
			}
			if err != nil || !(f > 0 && f <= 1) {
				return nil, fmt.Errorf("phase %q: the pace must be a fraction in (0, 1], such as @0.7 or @70%%", item)
			}
			if !seen[name] {
				return nil, fmt.Errorf("phase %q: run %s before pacing it", item, name)
			}
			p.Fraction = f
		}
		if seen[p.Name()] {
			return nil, fmt.Errorf("phase %q given twice", p.Name())
		}
		seen[p.Name()] = true
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no phases given")
	}
	return out, nil
}

func known(name string) bool {
	for _, n := range phaseNames {
		if n == name {
			return true
		}
	}
	return false
}
