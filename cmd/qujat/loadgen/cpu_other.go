//go:build !linux

package loadgen

import "time"

type cpuSample struct {
	busy, total uint64
	self        time.Duration
	procs       map[string]time.Duration
	ok          bool
}

// sampleCPU is not implemented off Linux: CPU figures are left out.
func sampleCPU() cpuSample { return cpuSample{} }
