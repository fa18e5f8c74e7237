package main

import (
	"bytes"
	"testing"

	"github.com/qujat/qujat/integrations/sources"
)

func TestGenerate_MatchesTheEmbeddedRegistry(t *testing.T) {
	b, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, sources.DemoRegistryJSON()) {
		t.Error("integrations/sources/demo/registry.json is stale: run go generate ./integrations/sources")
	}
}
