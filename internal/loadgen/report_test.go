package loadgen

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The report has the three charts with the faults marked, the violations,
// and a PNG that decodes.
func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	var bs []Bucket
	for i := range 20 {
		b := Bucket{Done: 50 + i, OK: 50 + i, Latencies: []time.Duration{10 * time.Millisecond, time.Duration(i) * 20 * time.Millisecond},
			Errors: map[string]int{}}
		if i == 8 {
			b.Errors["retry:conn"] = 12
		}
		bs = append(bs, b)
	}
	v := Verdict{Verdict: "fail", Duration: "20s", Checks: map[string]string{"exactly_once": "fail"},
		Faults: []FaultMark{{Name: "kill replica-0", Start: 8 * time.Second, End: 10 * time.Second, Recovery: 3 * time.Second}}}
	all := []Violation{{Kind: VDoubleEffect, Detail: "load load_1 of vis_a: 2 postings <script>"}}
	if err := WriteReport(dir, v, bs, all); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "kill replica-0", "retry:conn", "double_effect", "3s", "&lt;script&gt;"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Count(string(html), "<svg") != 3 {
		t.Errorf("want 3 charts, got %d", strings.Count(string(html), "<svg"))
	}
	b, err := os.ReadFile(filepath.Join(dir, "throughput.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() < 600 {
		t.Fatalf("throughput.png: %v %v", err, img)
	}
}
