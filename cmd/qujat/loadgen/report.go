package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as tables for people.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "qujat bench %s: concurrency %d, %gs per phase, %d CPUs, %s, %d owners, %d viewers\n",
		r.URL, r.Concurrency, r.DurationS, r.CPUs, r.GoVersion, r.Owners, r.Viewers)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	if len(r.Baselines) > 0 {
		fmt.Fprintln(w, "\nbaselines (same run, same concurrency):")
		fmt.Fprintln(tw, "name\tops/s\tp50 ms\tp95 ms\tp99 ms\terrors\tcpu busy\tbench cpu\t")
		for _, b := range r.Baselines {
			fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t\n", b.Name, b.OKPerSecond, b.P50ms, b.P95ms, b.P99ms,
				errorsText(b), pct(b.MachineCPU), pct(b.ClientCPU))
		}
		tw.Flush()
		for _, b := range r.Baselines {
			fmt.Fprintf(w, "  %s: %s\n", b.Name, b.What)
		}
	}
	if len(r.Phases) > 0 {
		fmt.Fprintln(w, "\nphases:")
		head := "phase\tok/s\treq/s\tp50 ms\tp95 ms\tp99 ms\terrors"
		for _, b := range r.Baselines {
			head += "\t× " + b.Name
		}
		fmt.Fprintln(tw, head+"\tcpu busy\tbench cpu\tother cpu ms/op\t")
		for _, p := range r.Phases {
			line := fmt.Sprintf("%s\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%s", p.Name, p.OKPerSecond, p.RPS, p.P50ms, p.P95ms, p.P99ms, errorsText(p))
			for _, b := range r.Baselines {
				if v, ok := p.Ratios[b.Name]; ok {
					line += fmt.Sprintf("\t%.2f", v)
				} else {
					line += "\t-"
				}
			}
			line += fmt.Sprintf("\t%s\t%s\t%.2f\t", pct(p.MachineCPU), pct(p.ClientCPU), p.OtherCPUms)
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
		for _, p := range r.Phases {
			fmt.Fprintf(w, "  %s: %s", p.Name, p.What)
			if p.PacedAt > 0 {
				fmt.Fprintf(w, "; paced at %.0f/s, latency from the scheduled start", p.PacedAt)
			}
			if p.Note != "" {
				fmt.Fprintf(w, "; %s", p.Note)
			}
			fmt.Fprintln(w)
		}
	}
	if names := processNames(r.Phases); len(names) > 0 {
		fmt.Fprintln(w, "\nCPU ms per successful operation, by process (/proc/PID/stat, all processes of each name):")
		fmt.Fprintln(tw, "phase\t"+strings.Join(names, "\t")+"\t")
		for _, p := range r.Phases {
			line := p.Name
			for _, n := range names {
				if v, ok := p.CPUmsByProcess[n]; ok {
					line += fmt.Sprintf("\t%.3f", v)
				} else {
					line += "\t-"
				}
			}
			fmt.Fprintln(tw, line+"\t")
		}
		tw.Flush()
	}
	pg := false
	for _, p := range r.Phases {
		pg = pg || p.PG != nil
	}
	if pg {
		fmt.Fprintln(w, "\nPostgreSQL per successful operation (pg_stat_database of the service's database, pg_stat_wal of the cluster):")
		fmt.Fprintln(tw, "phase\tcommits\trollbacks\trows ins\trows upd\trows del\tblocks read\tWAL records\tWAL FPI\tWAL bytes\tWAL writes\tWAL syncs\t")
		for _, p := range r.Phases {
			if s := p.PG; s != nil {
				fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.2f\t%.2f\t\n", p.Name, s.Commits, s.Rollbacks,
					s.RowsInserted, s.RowsUpdated, s.RowsDeleted, s.BlocksRead, s.WALRecords, s.WALFPI, s.WALBytes, s.WALWrites, s.WALSyncs)
			}
		}
		tw.Flush()
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

// processNames is every process name with CPU figures in any phase, sorted.
func processNames(phases []Result) []string {
	var names []string
	for _, p := range phases {
		for n := range p.CPUmsByProcess {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}

func errorsText(r Result) string {
	if len(r.Errors) == 0 {
		return "0"
	}
	var parts []string
	for _, st := range r.ErrorStatuses() {
		label := st
		if st == "0" {
			label = "no-response"
		}
		parts = append(parts, fmt.Sprintf("%s:%d", label, r.Errors[st]))
	}
	return strings.Join(parts, ",")
}

func pct(f float64) string {
	if f == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", f*100)
}
