package fx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/redact"
)

// Table is a set of mid-market rates, CNY per one unit of each card
// currency, all observed at one time. The zero Table has no rates.
type Table struct {
	asOf  time.Time
	mids  map[string]decimal.Decimal
	label string
}

// maxRateDecimals bounds the precision of a mid: eight decimals resolve
// KRW (about 0.005 CNY) to six significant digits, and a bound keeps the
// exact products of the quote math small.
const maxRateDecimals = 8

// maxRate is far above any real CNY mid (GBP is about 9, KWD about 23); a
// larger value is a feed error, not a market.
var maxRate = decimal.NewFromInt(100_000)

// NewTable checks and copies mids (code -> CNY per unit): every code a card
// currency, every rate positive, below 100000 and with at most eight
// decimals, at least one rate, and a non-zero as-of time. label names the
// source in logs ("built-in", a file path, a URL).
func NewTable(asOf time.Time, mids map[string]decimal.Decimal, label string) (Table, error) {
	if asOf.IsZero() {
		return Table{}, fmt.Errorf("%w: no as-of time", ErrInvalidRates)
	}
	if len(mids) == 0 {
		return Table{}, fmt.Errorf("%w: no rates", ErrInvalidRates)
	}
	out := make(map[string]decimal.Decimal, len(mids))
	for code, r := range mids {
		if _, err := CardCurrency(code); err != nil {
			return Table{}, fmt.Errorf("%w: rate for %q: %w", ErrInvalidRates, code, err)
		}
		if !r.IsPositive() || r.GreaterThanOrEqual(maxRate) || !r.Equal(r.Truncate(maxRateDecimals)) {
			return Table{}, fmt.Errorf("%w: rate for %s: %s is not a positive rate below %s with at most %d decimals",
				ErrInvalidRates, code, r, maxRate, maxRateDecimals)
		}
		out[code] = r
	}
	// Microseconds: what PostgreSQL keeps of a quote's rates_as_of.
	return Table{asOf: asOf.UTC().Truncate(time.Microsecond), mids: out, label: label}, nil
}

// AsOf is when the rates were observed.
func (t Table) AsOf() time.Time { return t.asOf }

// Label names where the rates came from.
func (t Table) Label() string { return t.label }

// Mid is the mid-market rate of c in CNY per unit, or ErrUnsupportedCurrency
// when c is not a card currency or the table has no rate for it.
func (t Table) Mid(c money.Currency) (decimal.Decimal, error) {
	r, ok := t.mids[c.Code()]
	if !ok {
		return decimal.Decimal{}, fmt.Errorf("%w: no rate for %q", ErrUnsupportedCurrency, c.Code())
	}
	return r, nil
}

// Currencies lists the codes the table has rates for, sorted.
func (t Table) Currencies() []string {
	return slices.Sorted(maps.Keys(t.mids))
}

// Fresh returns ErrRatesStale when the table is older than maxAge at now,
// or claims a time more than maxFutureSkew after now: a feed dated in the
// future would otherwise never go stale.
func (t Table) Fresh(now time.Time, maxAge time.Duration) error {
	if t.asOf.IsZero() {
		return fmt.Errorf("%w: no rates", ErrRatesStale)
	}
	if age := now.Sub(t.asOf); age > maxAge {
		return fmt.Errorf("%w: %s rates are %s old, limit %s", ErrRatesStale, t.label, age.Round(time.Second), maxAge)
	}
	if t.asOf.After(now.Add(maxFutureSkew)) {
		return fmt.Errorf("%w: %s rates are dated %s, in the future", ErrRatesStale, t.label, t.asOf.Format(time.RFC3339))
	}
	return nil
}

// maxFutureSkew tolerates clocks of the feed and of this host disagreeing.
const maxFutureSkew = 5 * time.Minute

// Source gives the current mid rates. Implementations are safe for
// concurrent use.
type Source interface {
	Rates(ctx context.Context) (Table, error)
}

// maxDocument bounds a rates document; a real one is a few hundred bytes.
const maxDocument = 1 << 20

// ParseTable reads a rates document, the format of INBOUND_FX_RATES:
//
//	{"as_of": "2026-11-20T08:00:00Z", "base": "CNY",
//	 "rates": {"USD": "7.1220", "EUR": "7.7150", "JPY": "0.04730"}}
//
// as_of is RFC 3339; base must be "CNY"; each rate is a JSON string in plain
// decimal notation (no sign, no exponent), the mid-market CNY price of one
// unit of a supported card currency. Parsing is strict: all three fields
// are required, each once; unknown fields, duplicate keys, JSON numbers,
// unknown currencies, zero or negative rates and trailing data are refused
// with ErrInvalidRates.
func ParseTable(r io.Reader, label string) (Table, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxDocument+1))
	if err != nil {
		return Table{}, fmt.Errorf("fx: read %s: %w", label, err)
	}
	if len(b) > maxDocument {
		return Table{}, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidRates, label, maxDocument)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidRates, label, fmt.Sprintf(format, a...))
	}
	if err := expectDelim(dec, '{'); err != nil {
		return Table{}, bad("document must be a JSON object")
	}
	var (
		asOf time.Time
		mids map[string]decimal.Decimal
		seen = map[string]bool{}
	)
	for dec.More() {
		key, err := stringToken(dec)
		if err != nil {
			return Table{}, bad("malformed object")
		}
		if seen[key] {
			return Table{}, bad("field %q given twice", key)
		}
		seen[key] = true
		switch key {
		case "as_of":
			s, err := stringToken(dec)
			if err != nil {
				return Table{}, bad("as_of must be a string")
			}
			asOf, err = time.Parse(time.RFC3339, s)
			if err != nil {
				return Table{}, bad("as_of %q is not RFC 3339", s)
			}
		case "base":
			s, err := stringToken(dec)
			if err != nil || s != "CNY" {
				return Table{}, bad(`base must be "CNY"`)
			}
		case "rates":
			mids, err = parseRates(dec)
			if err != nil {
				return Table{}, bad("rates: %v", err)
			}
		default:
			return Table{}, bad("unknown field %q", key)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return Table{}, bad("malformed object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Table{}, bad("data after the object")
	}
	for _, f := range []string{"as_of", "base", "rates"} {
		if !seen[f] {
			return Table{}, bad("missing field %q", f)
		}
	}
	t, err := NewTable(asOf, mids, label)
	if err != nil {
		return Table{}, fmt.Errorf("%s: %w", label, err)
	}
	return t, nil
}

func parseRates(dec *json.Decoder) (map[string]decimal.Decimal, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return nil, errors.New("must be an object")
	}
	out := map[string]decimal.Decimal{}
	for dec.More() {
		code, err := stringToken(dec)
		if err != nil {
			return nil, errors.New("malformed object")
		}
		if _, dup := out[code]; dup {
			return nil, fmt.Errorf("%q given twice", code)
		}
		if _, err := CardCurrency(code); err != nil {
			return nil, fmt.Errorf("%q is not a supported card currency", code)
		}
		s, err := stringToken(dec)
		if err != nil {
			return nil, fmt.Errorf("%s must be a decimal string, not a JSON number", code)
		}
		r, err := parseRate(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", code, err)
		}
		out[code] = r
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, errors.New("malformed object")
	}
	return out, nil
}

// parseRate accepts plain positive decimals only: decimal.NewFromString would
// also take "1e3", "+7" and "-7".
func parseRate(s string) (decimal.Decimal, error) {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 6 || !digits(intPart) || (hasDot && (frac == "" || !digits(frac))) {
		return decimal.Decimal{}, fmt.Errorf("%q is not a plain decimal", s)
	}
	if len(frac) > maxRateDecimals {
		return decimal.Decimal{}, fmt.Errorf("%q has more than %d decimals", s, maxRateDecimals)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%q is not a plain decimal", s)
	}
	if !d.IsPositive() {
		return decimal.Decimal{}, fmt.Errorf("%q is not positive", s)
	}
	return d, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q", want)
	}
	return nil
}

func stringToken(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", errors.New("not a string")
	}
	return s, nil
}

// FileSource reads a rates document from a file on every call; wrap it in
// a Cache so a quote does not read the disk.
type FileSource struct {
	path string
}

// NewFileSource reads rates from the file at path (see ParseTable).
func NewFileSource(path string) *FileSource { return &FileSource{path: path} }

// Rates reads and parses the file.
func (s *FileSource) Rates(ctx context.Context) (Table, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return Table{}, fmt.Errorf("fx: rates file: %w", err)
	}
	defer f.Close()
	return ParseTable(f, s.path)
}

// URLSource fetches a rates document over HTTP(S) on every call; wrap it in
// a Cache.
type URLSource struct {
	url    string
	client *http.Client
}

// NewURLSource fetches rates from url with client (nil: a client with a
// 10-second timeout, so a hung feed cannot hang a quote forever).
func NewURLSource(url string, client *http.Client) *URLSource {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &URLSource{url: url, client: client}
}

// Rates fetches and parses the document; anything but 200 is an error.
func (s *URLSource) Rates(ctx context.Context) (Table, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return Table{}, fmt.Errorf("fx: rates URL: %w", redact.Err(err))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return Table{}, fmt.Errorf("fx: rates URL: %w", redact.Err(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocument))
		return Table{}, fmt.Errorf("fx: rates URL %s: status %d", redact.URL(s.url), resp.StatusCode)
	}
	// The label shows in errors and logs: never the credentials.
	return ParseTable(resp.Body, redact.URL(s.url))
}

// Cache keeps the last good Table of a slower source and asks it again once
// the table was fetched more than refresh ago. When the source fails, the
// last good table is served on and the failure logged: the staleness check
// of the quote, not the cache, decides when old rates must stop quoting, so
// a short feed outage does not stop loads.
type Cache struct {
	src     Source
	refresh time.Duration
	now     func() time.Time

	mu        sync.Mutex
	table     Table
	fetchedAt time.Time
}

// NewCache wraps src; now is the clock (nil: time.Now).
func NewCache(src Source, refresh time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{src: src, refresh: refresh, now: now}
}

// Rates returns the cached table, refreshing it when due. One caller
// refreshes at a time; the others wait for it rather than stampede the feed.
func (c *Cache) Rates(ctx context.Context) (Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.fetchedAt.IsZero() && now.Sub(c.fetchedAt) < c.refresh {
		return c.table, nil
	}
	t, err := c.src.Rates(ctx)
	if err != nil {
		if c.fetchedAt.IsZero() {
			return Table{}, err
		}
		slog.WarnContext(ctx, "fx rates refresh failed; serving the last rates", "as_of", c.table.asOf, "err", err)
		// Try again on the next refresh period, not on every quote.
		c.fetchedAt = now
		return c.table, nil
	}
	c.table, c.fetchedAt = t, now
	return t, nil
}

// Options configure OpenSource.
type Options struct {
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Refresh is how often a file or URL is read again (default 30 s).
	Refresh time.Duration
	// Client fetches URLs (nil: a client with a 10-second timeout).
	Client *http.Client
	// Simulate turns on simulated market moves of the built-in table (dev).
	Simulate bool
	// Seed makes the simulated moves reproducible.
	Seed uint64
}

// OpenSource builds the rate source of the INBOUND_FX_RATES setting: empty
// for the built-in table, an http:// or https:// URL, or a file path. A file
// or URL is read once here, so a wrong setting fails at start rather than on
// the first quote.
func OpenSource(ctx context.Context, setting string, o Options) (Source, error) {
	if o.Refresh <= 0 {
		o.Refresh = 30 * time.Second
	}
	var src Source
	switch {
	case setting == "":
		return NewBuiltin(BuiltinOptions{Now: o.Now, Simulate: o.Simulate, Seed: o.Seed}), nil
	case strings.HasPrefix(setting, "http://"), strings.HasPrefix(setting, "https://"):
		src = NewURLSource(setting, o.Client)
	default:
		src = NewFileSource(setting)
	}
	c := NewCache(src, o.Refresh, o.Now)
	if _, err := c.Rates(ctx); err != nil {
		return nil, fmt.Errorf("INBOUND_FX_RATES: %w", err)
	}
	return c, nil
}
