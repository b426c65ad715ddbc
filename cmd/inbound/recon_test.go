package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// TestReconSubcommand: `inbound recon` is clean on an empty gateway and
// fails (exit status 1), listing the break, once the network settled a
// capture no load credited; on both engines.
func TestReconSubcommand(t *testing.T) {
	backends := map[string]func(t *testing.T) map[string]string{
		"embedded": func(t *testing.T) map[string]string { return map[string]string{"INBOUND_DATA_DIR": t.TempDir()} },
	}
	if testenv.HasReal() {
		backends["postgres"] = func(t *testing.T) map[string]string {
			return map[string]string{"INBOUND_DATABASE_URL": testenv.Real(t).DBURL}
		}
	}
	for name, envOf := range backends {
		t.Run(name, func(t *testing.T) {
			env := envOf(t)
			network := httptest.NewServer(cardnet.NewHandler(cardnet.New(cardnet.Config{})))
			t.Cleanup(network.Close)
			env["INBOUND_CARDNET_URL"] = network.URL
			getenv := func(k string) string { return env[k] }
			ctx := context.Background()

			var out bytes.Buffer
			if err := run(ctx, []string{"recon"}, getenv, &out, io.Discard); err != nil || !strings.Contains(out.String(), "clean") {
				t.Fatalf("recon of an empty gateway: %v %s", err, out.String())
			}

			msg := `{"mti":"0200","processing_code":"00","pan":"4000056655665556","expiry":"3012","cvc":"123","amount":"1234","currency":"USD","stan":"424242","rrn":"RECONCLI0001"}`
			res, err := http.Post(network.URL+"/v1/messages", "application/json", strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()

			out.Reset()
			err = run(ctx, []string{"recon", "-day", time.Now().UTC().Format(time.DateOnly)}, getenv, &out, io.Discard)
			if !errors.Is(err, errReconBreaks) {
				t.Fatalf("recon with a capture no load credited: err %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "settlement capture_without_credit") || !strings.Contains(out.String(), "rule capture_without_credit: 1") {
				t.Fatalf("break not listed:\n%s", out.String())
			}

			// Another day has no such capture; a bad day is refused.
			out.Reset()
			if err := run(ctx, []string{"recon", "-day", "2001-02-03"}, getenv, &out, io.Discard); err != nil {
				t.Fatalf("recon of a quiet day: %v %s", err, out.String())
			}
			if err := run(ctx, []string{"recon", "-day", "yesterday"}, getenv, io.Discard, io.Discard); err == nil {
				t.Fatal("a malformed -day was accepted")
			}
		})
	}
}

// TestReconNeedsANetwork: with no card network to ask, recon says where
// to look instead of failing obscurely.
func TestReconNeedsANetwork(t *testing.T) {
	env := map[string]string{"INBOUND_DATA_DIR": t.TempDir()}
	err := run(context.Background(), []string{"recon"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "INBOUND_CARDNET_URL") {
		t.Fatalf("recon without a network: %v", err)
	}
}
