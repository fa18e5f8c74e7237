package loadgen

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is the machine's CPU time (busy and total, in clock ticks, from
// /proc/stat), this process's CPU time, and every process's by name.
type cpuSample struct {
	busy, total uint64
	self        time.Duration
	procs       map[string]time.Duration // command name → CPU time of its processes
	ok          bool
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// this runs on (it is fixed in the kernel's ABI for the x86 and arm ports).
const clockTicks = 100

func sampleCPU() cpuSample {
	var s cpuSample
	f, err := os.Open("/proc/stat")
	if err != nil {
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return s
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return s
	}
	for i, v := range fields[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return s
		}
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s
	}
	s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	s.procs = sampleProcs()
	s.ok = true
	return s
}

// sampleProcs sums the CPU time (user and system, all threads) of every
// process on the machine by its command name (/proc/PID/stat's comm): the
// service ("qujat"), "postgres" (its backends and helpers), "redis-server".
// A process that ends between two samples drops out of the later one, so a
// short-lived one's time is not counted; the servers' are long-lived.
func sampleProcs() map[string]time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make(map[string]time.Duration)
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // ended since the listing
		}
		if name, t, ok := parseProcStat(string(b)); ok {
			out[name] += t
		}
	}
	return out
}

// parseProcStat reads the command name and utime+stime from a
// /proc/PID/stat line. The name is in parentheses and may itself hold
// spaces and parentheses, so the fields are counted from the last ')'.
func parseProcStat(line string) (string, time.Duration, bool) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	f := strings.Fields(line[end+1:])
	// After the name: state (field 3), ... utime (14), stime (15).
	if len(f) < 13 {
		return "", 0, false
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, false
	}
	return line[open+1 : end], time.Duration(ut+st) * time.Second / clockTicks, true
}
