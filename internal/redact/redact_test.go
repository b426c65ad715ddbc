package redact_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/internal/redact"
)

func TestURL(t *testing.T) {
	cases := []struct {
		name, in, want string
		// secrets must not survive, whatever else the output shows.
		secrets []string
	}{
		{"empty", "", "", nil},
		{"postgres with password", "postgres://u:s3cret@db:5432/inbound?sslmode=require", "postgres://u:xxxxx@db:5432/inbound?sslmode=require", []string{"s3cret"}},
		{"postgres user only", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", nil},
		{"postgresql password query", "postgresql://db/inbound?user=u&password=s3cret&sslmode=verify-full", "postgresql://db/inbound?user=u&password=xxxxx&sslmode=verify-full", []string{"s3cret"}},
		{"sslpassword query", "postgres://u@db/inbound?sslkey=/k.pem&sslpassword=keypass", "postgres://u@db/inbound?sslkey=xxxxx&sslpassword=xxxxx", []string{"keypass"}},
		{"both userinfo and query", "postgres://u:one@db/x?password=two", "postgres://u:xxxxx@db/x?password=xxxxx", []string{"one", "two"}},
		{"escaped password", "postgres://u:p%40ss%3Aw%2Frd@db/x", "postgres://u:xxxxx@db/x", []string{"p%40ss", "p@ss"}},
		{"upper-case key", "postgres://db/x?PASSWORD=s3cret", "postgres://db/x?PASSWORD=xxxxx", []string{"s3cret"}},
		{"escaped key", "postgres://db/x?pass%77ord=s3cret", "postgres://db/x?pass%77ord=xxxxx", []string{"s3cret"}},
		{"unparsable userinfo", "postgres://u:pa%zz@db/x", "postgres://xxxxx@db/x", []string{"pa%zz"}},
		{"redis password only", "redis://:r3dis@cache:6379/0", "redis://:xxxxx@cache:6379/0", []string{"r3dis"}},
		{"redis user and password", "rediss://default:r3dis@cache:6380/1", "rediss://default:xxxxx@cache:6380/1", []string{"r3dis"}},
		{"redis secret as user", "redis://r3dis@cache:6379", "redis://xxxxx@cache:6379", []string{"r3dis"}},
		{"cardnet basic auth", "https://acq:c4rd@cardnet.example:8443/iso", "https://acq:xxxxx@cardnet.example:8443/iso", []string{"c4rd"}},
		{"cardnet token as user", "https://tok3n@cardnet.example", "https://xxxxx@cardnet.example", []string{"tok3n"}},
		{"fx api key query", "https://rates.example/v1/latest.json?base=CNY&api_key=k3y&access_token=t0k", "https://rates.example/v1/latest.json?base=CNY&api_key=xxxxx&access_token=xxxxx", []string{"k3y", "t0k"}},
		{"signed url", "https://bucket.example/rates.json?X-Amz-Signature=abc123&X-Amz-Credential=AKIA1", "https://bucket.example/rates.json?X-Amz-Signature=xxxxx&X-Amz-Credential=xxxxx", []string{"abc123", "AKIA1"}},
		{"fragment", "https://rates.example/r.json#token=t0k", "https://rates.example/r.json#xxxxx", []string{"t0k"}},
		{"plain url", "http://cardnet:8090", "http://cardnet:8090", nil},
		{"file path", "/etc/inbound/rates.json", "/etc/inbound/rates.json", nil},
		{"host port", "cache-1:6379", "cache-1:6379", nil},
		{"host port with userinfo", "user:pw1@cache-1:6379", "xxxxx@cache-1:6379", []string{"pw1"}},
		{"dsn", "host=db user=u password=s3cret dbname=inbound sslmode=require", "host=db user=u password=xxxxx dbname=inbound sslmode=require", []string{"s3cret"}},
		{"dsn quoted", "host=db password='s3 cr\\'et' sslpassword=kp dbname=x", "host=db password=xxxxx sslpassword=xxxxx dbname=x", []string{"s3", "cr", "kp"}},
		{"dsn spaces around =", "host = db password = s3cret", "host = db password = xxxxx", []string{"s3cret"}},
		{"dsn last", "user=u password=s3cret", "user=u password=xxxxx", []string{"s3cret"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := redact.URL(c.in)
			if got != c.want {
				t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
			}
			for _, s := range c.secrets {
				if strings.Contains(got, s) {
					t.Errorf("URL(%q) = %q still shows %q", c.in, got, s)
				}
			}
		})
	}
}

func TestErr(t *testing.T) {
	bad := strings.Join([]string{"redis://u:Pw0rd1@cache", "port/0"}, ":") // a port that is not a number
	_, parseErr := url.Parse(bad)
	res, getErr := http.Get("http://127.0.0.1:1/rates.json?api_key=Pw0rd2")
	if res != nil {
		_ = res.Body.Close()
	}
	for _, err := range []error{parseErr, getErr} {
		if err == nil {
			t.Fatal("no error to redact")
		}
		// As the callers do: redact, then wrap (wrapping renders the text).
		if s := fmt.Errorf("wrapped: %w", redact.Err(err)).Error(); strings.Contains(s, "Pw0rd") {
			t.Errorf("error still shows a credential: %s", s)
		}
	}
	if redact.Err(nil) != nil {
		t.Error("nil error became non-nil")
	}
}
