package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryVariableIsDocumented: each INBOUND_* variable the configuration
// reads has a row in docs/OPERATIONS.md, so a new setting without docs
// fails here.
func TestEveryVariableIsDocumented(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`"(INBOUND_[A-Z0-9_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(vars) < 20 {
		t.Fatalf("found only %d variables in config.go", len(vars))
	}
	for _, v := range vars {
		if !strings.Contains(string(doc), "`"+v[1]+"`") {
			t.Errorf("docs/OPERATIONS.md does not document %s", v[1])
		}
	}
}
