package main

import (
	"runtime/debug"
	"testing"
)

func TestSetGCTarget_DefaultUnlessGOGCIsSet(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got := setGCTarget(getenv); got != serveGCPercent {
		t.Errorf("without GOGC: target %d, want %d", got, serveGCPercent)
	}
	if got := debug.SetGCPercent(serveGCPercent); got != serveGCPercent {
		t.Errorf("without GOGC: the runtime's target is %d, want %d", got, serveGCPercent)
	}

	// With GOGC set the runtime's own reading stands (here: 150, as if
	// the runtime had read GOGC=150 at start).
	debug.SetGCPercent(150)
	env["GOGC"] = "150"
	if got := setGCTarget(getenv); got != 150 {
		t.Errorf("with GOGC=150: target %d, want 150", got)
	}
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("with GOGC=150: the runtime's target is %d, want it left at 150", got)
	}
}
