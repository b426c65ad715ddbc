package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/kyc"
)

// testdata runs `inbound testdata ...` and returns stdout.
func testdata(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), append([]string{"testdata"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String(), err
}

func mrzOf(t *testing.T, out string) []string {
	t.Helper()
	var body struct {
		MRZ []string `json:"mrz"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body.MRZ) == 0 {
		t.Fatalf("not a {\"mrz\": [...]} body: %v: %q", err, out)
	}
	return body.MRZ
}

func TestTestdataPassportRoundTrips(t *testing.T) {
	now := time.Now().UTC()
	for _, format := range []kyc.Format{kyc.TD1, kyc.TD2, kyc.TD3} {
		t.Run(string(format), func(t *testing.T) {
			out, err := testdata(t, "passport", "-format", strings.ToLower(string(format)), "-surname", "Van der Berg",
				"-given", "Lise-Marie", "-nationality", "NLD", "-sex", "F", "-born", "1985-06-30", "-expires", "2035-01-31", "-number", "NX12345Q7")
			if err != nil {
				t.Fatal(err)
			}
			got, err := kyc.ParseMRZ(mrzOf(t, out), now)
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			code := "P"
			if format != kyc.TD3 {
				code = "I"
			}
			want := kyc.MRZ{Format: format, DocumentCode: code, IssuingState: "NLD", Surname: "VAN DER BERG", GivenNames: "LISE MARIE",
				DocumentNumber: "NX12345Q7", Nationality: "NLD", DateOfBirth: mustDate(t, "1985-06-30"), Sex: kyc.SexFemale,
				ExpiryDate: mustDate(t, "2035-01-31")}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func mustDate(t *testing.T, s string) kyc.Date {
	t.Helper()
	d, err := kyc.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestTestdataPassportDefaults(t *testing.T) {
	now := time.Now().UTC()
	a, err := testdata(t, "passport")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := testdata(t, "passport")
	ma, err := kyc.ParseMRZ(mrzOf(t, a), now)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := kyc.ParseMRZ(mrzOf(t, b), now)
	if ma.DocumentNumber == mb.DocumentNumber {
		t.Errorf("two runs gave the same document number %s", ma.DocumentNumber)
	}
	if ma.Format != kyc.TD3 || ma.DateOfBirth.AgeOn(kyc.DateOf(now)) < 18 {
		t.Errorf("default is not an adult's passport: %+v", ma)
	}
	if want := kyc.DateOf(now.AddDate(5, 0, 0)); !ma.ExpiryDate.Equal(want) {
		t.Errorf("expiry %s, want %s", ma.ExpiryDate, want)
	}
	if a := kyc.Assess(ma, kyc.Screening{}, now, kyc.Policy{}); a.Status != kyc.StatusApproved {
		t.Errorf("default passport assessed %s %v", a.Status, a.Reasons)
	}
}

func TestTestdataPassportBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"passport", "-born", "15.01.1990"}, "-born must be a date YYYY-MM-DD"},
		{[]string{"passport", "-expires", "2035-02-30"}, "-expires must be a date YYYY-MM-DD"},
		{[]string{"passport", "-format", "td4"}, "-format must be td1, td2 or td3"},
		{[]string{"passport", "-nationality", "ZZZ"}, "unknown nationality"},
		{[]string{"passport", "-sex", "Q"}, "sex must be M, F or X"},
		{[]string{"passport", "-surname", "Müller"}, "letters A-Z"},
		{[]string{"passport", "-number", "1234567890"}, "1-9 characters"},
		{[]string{"passport", "-colour", "red"}, "flag provided but not defined: -colour"},
		{[]string{"passport", "extra"}, `unexpected argument "extra"`},
		{[]string{"visa"}, "usage: inbound testdata passport"},
	} {
		out, err := testdata(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
		if out != "" {
			t.Errorf("%v printed %q on error", tc.args, out)
		}
	}
}

// postJSON sends a POST with a fresh Idempotency-Key.
func postJSON(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", ids.New("k"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// TestTestdataPassportOnboardsApproved sends the printed body, as is, to
// the real API: each format is approved, and the default twice in a row
// gives two visitors (no duplicate_document).
func TestTestdataPassportOnboardsApproved(t *testing.T) {
	in := start(t, loopbackEnv(t))
	m := credRE.FindStringSubmatch(in.stdout.String())
	if m == nil {
		t.Fatalf("no credentials printed:\n%s", in.stdout)
	}
	sk := m[1]
	for _, args := range [][]string{
		{"passport"}, {"passport"}, {"passport", "-format", "td2"}, {"passport", "-format", "td1"},
		{"passport", "-format", "td1", "-number", "T2200012945"},
	} {
		out, err := testdata(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		code, v := postJSON(t, in.partner+"/v1/visitors", sk, out)
		k, _ := v["kyc"].(map[string]any)
		if code != 201 || k["status"] != "approved" {
			t.Errorf("%v: %d %v", args, code, v)
		}
	}
}
