package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/webhook"
)

// The function below is the Go snippet of docs/API.md (Webhooks), copied
// verbatim between the markers: TestWebhookSnippetsVerify checks that the
// guide shows exactly this code, and that it accepts what Sign makes.

// snippet start
// verify reports whether header (Inbound-Signature) signs body with
// secret, within 5 minutes of now.
func verify(secret, header string, body []byte, now time.Time) bool {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// snippet end

func TestWebhookSnippetsVerify(t *testing.T) {
	doc, err := os.ReadFile("../../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("docs_test.go")
	if err != nil {
		t.Fatal(err)
	}
	goBlock := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(doc)
	_, own, _ := strings.Cut(string(src), "// snippet start\n")
	own, _, _ = strings.Cut(own, "\n// snippet end")
	if goBlock == nil || string(goBlock[1]) != own {
		t.Fatalf("the Go snippet of docs/API.md differs from the copy in docs_test.go")
	}

	secret, body, now := "whsec_test", []byte(`{"id":"evt_1","object":"event","type":"load.succeeded"}`), time.Now()
	header := webhook.Sign(secret, now, body)
	if !verify(secret, header, body, now) || !webhook.Verify(secret, header, body, now, 5*time.Minute) {
		t.Fatal("a good signature is refused")
	}
	if verify("whsec_other", header, body, now) || verify(secret, header, append(body, ' '), now) ||
		verify(secret, header, body, now.Add(6*time.Minute)) {
		t.Fatal("a bad signature, body or time passes")
	}

	// The shell snippet, with openssl.
	for _, tool := range []string{"bash", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	shell := regexp.MustCompile("(?s)```console\n(T=\\$\\{SIG#.*?)```").FindSubmatch(doc)
	if shell == nil {
		t.Fatal("docs/API.md has no shell verification snippet")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "body.json"), body, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		secret string
		want   string
	}{{secret, "valid\n"}, {"whsec_other", ""}} {
		cmd := exec.Command("bash", "-c", string(shell[1]))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SIG="+header, "SECRET="+tc.secret)
		out, _ := cmd.Output()
		if string(out) != tc.want {
			t.Errorf("shell snippet with secret %s printed %q, want %q", tc.secret, out, tc.want)
		}
	}
}
