package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from run and read from the
// test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"cardnet", "-addr", "127.0.0.1:0"}, env(map[string]string{"CARDNET_MAX_HANG": "20s"}), &stdout, &stderr)
	}()

	addrRe := regexp.MustCompile(`listening on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == ""; {
		if m := addrRe.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no address printed; stderr: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitHealthy(t, base)

	body := `{"mti":"0100","pan":"4242424242424242","expiry":"3012","cvc":"123","amount":"1000","currency":"USD","stan":"000001","rrn":"000000000001"}`
	resp, err := http.Post(base+"/v1/messages", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		ResponseCode string `json:"response_code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	_ = resp.Body.Close()
	if answer.ResponseCode != "00" {
		t.Fatalf("answer %+v", answer)
	}

	// A request held by the no-answer card must not block the shutdown.
	go func() {
		body := strings.Replace(body, "4242424242424242", "4000000000000259", 1)
		body = strings.Replace(body, "000001", "000002", 1)
		if resp, err := http.Post(base+"/v1/messages", "application/json", strings.NewReader(body)); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond)

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	if strings.Contains(stderr.String(), "4242424242424242") {
		t.Fatal("log contains a PAN")
	}
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr bool
	}{
		{"defaults", nil, nil, config{addr: "127.0.0.1:8090", maxHang: 30 * time.Second}, false},
		{"env", nil, map[string]string{"CARDNET_ADDR": ":9000", "CARDNET_MAX_HANG": "5s", "CARDNET_SEED": "42"},
			config{addr: ":9000", maxHang: 5 * time.Second, seed: 42}, false},
		{"flags win", []string{"-addr", ":9100", "-max-hang", "1s"}, map[string]string{"CARDNET_ADDR": ":9000"},
			config{addr: ":9100", maxHang: time.Second}, false},
		{"bad env duration", nil, map[string]string{"CARDNET_MAX_HANG": "soon"}, config{}, true},
		{"bad seed", nil, map[string]string{"CARDNET_SEED": "-1"}, config{}, true},
		{"unknown flag", []string{"-port", "1"}, nil, config{}, true},
		{"stray argument", []string{"serve"}, nil, config{}, true},
		{"zero hang", []string{"-max-hang", "0s"}, nil, config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(append([]string{"cardnet"}, tt.args...), env(tt.env), io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			if got != tt.want {
				t.Fatalf("config %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRunListenError(t *testing.T) {
	err := run(context.Background(), []string{"cardnet", "-addr", "256.0.0.1:1"}, env(nil), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("run with a bad address returned nil")
	}
}

func TestDataDirFromFlagOrEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"none", nil, nil, ""},
		{"env", nil, map[string]string{"CARDNET_DATA_DIR": "/var/lib/cardnet"}, "/var/lib/cardnet"},
		{"flag wins", []string{"-data", "/tmp/x"}, map[string]string{"CARDNET_DATA_DIR": "/var/lib/cardnet"}, "/tmp/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseConfig(append([]string{"cardnet"}, tc.args...), env(tc.env), io.Discard)
			if err != nil || cfg.dataDir != tc.want {
				t.Fatalf("dataDir %q, %v; want %q", cfg.dataDir, err, tc.want)
			}
		})
	}
}

// startCardnet runs the command until the returned stop is called, and
// returns its base URL.
func startCardnet(t *testing.T, args ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"cardnet", "-addr", "127.0.0.1:0"}, args...), env(nil), &stdout, &stderr)
	}()
	addrRe := regexp.MustCompile(`listening on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == ""; {
		if m := addrRe.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no address printed; stderr: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitHealthy(t, base)
	return base, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

// TestDataFlagKeepsSettlementAcrossRestart: a purchase on a cardnet run
// with -data is in the settlement report of the next run on the same
// directory.
func TestDataFlagKeepsSettlementAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	base, stop := startCardnet(t, "-data", dir)
	body := `{"mti":"0200","processing_code":"00","pan":"4242424242424242","expiry":"3012","cvc":"123","amount":"1234","currency":"USD","stan":"000001","rrn":"000000000001"}`
	resp, err := http.Post(base+"/v1/messages", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	report := func(base string) string {
		t.Helper()
		r, err := http.Get(base + "/v1/settlement?date=" + time.Now().UTC().Format(time.DateOnly))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	before := report(base)
	if !strings.Contains(before, `"amount":"1234"`) {
		t.Fatalf("report before restart: %s", before)
	}
	stop()

	base, stop = startCardnet(t, "-data", dir)
	defer stop()
	if after := report(base); after != before {
		t.Fatalf("report changed across restart:\nbefore %s\nafter  %s", before, after)
	}
}
