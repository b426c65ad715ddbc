package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/redact"
)

// DefaultTimeout is how long the HTTP connector waits for an answer when
// no timeout is configured: long enough for a slow issuer, short enough
// that a visitor at a checkout still gets an answer.
const DefaultTimeout = 10 * time.Second

// HTTPConnector is the Connector that speaks cardnet's JSON wire format
// (POST /v1/messages). It is safe for concurrent use.
type HTTPConnector struct {
	endpoint string
	client   *http.Client
	timeout  time.Duration
}

// NewHTTPConnector returns a connector for the cardnet at baseURL (for
// example "http://127.0.0.1:8090"). Every call waits at most timeout
// (DefaultTimeout when zero) for the answer. client may be nil for a client
// of its own; its Timeout is not used, the per-call timeout is.
func NewHTTPConnector(baseURL string, timeout time.Duration, client *http.Client) (*HTTPConnector, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gateway: cardnet URL %q: want http(s)://host[:port]", redact.URL(baseURL))
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if client == nil {
		// The default transport keeps only two idle connections per host;
		// a gateway under load would open and close one per call.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		client = &http.Client{Transport: tr}
	}
	return &HTTPConnector{
		endpoint: strings.TrimSuffix(u.String(), "/") + "/v1/messages",
		client:   client,
		timeout:  timeout,
	}, nil
}

// wireOriginal, wireMessage and wireResponse are cardnet's wire format
// (documented in package cardnet). The gateway keeps its own copy, as a
// client of any outside network would; the tests against the simulator
// keep the two in step.
type wireOriginal struct {
	MTI      string `json:"mti"`
	STAN     string `json:"stan"`
	RRN      string `json:"rrn"`
	AuthCode string `json:"auth_code,omitempty"`
}

type wireMessage struct {
	MTI            string        `json:"mti"`
	ProcessingCode string        `json:"processing_code,omitempty"`
	PAN            string        `json:"pan,omitempty"`
	Expiry         string        `json:"expiry,omitempty"`
	CVC            string        `json:"cvc,omitempty"`
	Amount         string        `json:"amount,omitempty"`
	Currency       string        `json:"currency,omitempty"`
	STAN           string        `json:"stan,omitempty"`
	RRN            string        `json:"rrn,omitempty"`
	Original       *wireOriginal `json:"original,omitempty"`
	ChallengeID    string        `json:"challenge_id,omitempty"`
	OTP            string        `json:"otp,omitempty"`
	Network        string        `json:"network,omitempty"`
}

type wireResponse struct {
	MTI             string `json:"mti"`
	STAN            string `json:"stan"`
	RRN             string `json:"rrn"`
	ResponseCode    string `json:"response_code"`
	AuthCode        string `json:"auth_code"`
	Message         string `json:"message"`
	ChallengeID     string `json:"challenge_id"`
	Network         string `json:"network"`
	IssuerCountry   string `json:"issuer_country"`
	BillingCurrency string `json:"billing_currency"`
	Available       string `json:"available"`
	Replayed        bool   `json:"replayed"`
}

// Authorize implements Connector.
func (c *HTTPConnector) Authorize(ctx context.Context, req AuthRequest) (Result, error) {
	m := wireMessage{
		MTI: MTIAuthorization, PAN: req.PAN.Number(), Expiry: yymm(req.Expiry), CVC: req.CVC,
		STAN: req.Trace.STAN, RRN: req.Trace.RRN,
	}
	setAmount(&m, req.Amount)
	setAuthentication(&m, req.Authentication)
	return c.send(ctx, m)
}

// Capture implements Connector.
func (c *HTTPConnector) Capture(ctx context.Context, req CaptureRequest) (Result, error) {
	m := wireMessage{
		MTI: MTIFinancial, ProcessingCode: "00", PAN: req.PAN.Number(), Expiry: yymm(req.Expiry), CVC: req.CVC,
		STAN: req.Trace.STAN, RRN: req.Trace.RRN,
	}
	if req.Original != nil {
		m.MTI, m.ProcessingCode, m.Original = MTICompletion, "", original(*req.Original)
	}
	setAmount(&m, req.Amount)
	setAuthentication(&m, req.Authentication)
	return c.send(ctx, m)
}

// Reverse implements Connector.
func (c *HTTPConnector) Reverse(ctx context.Context, req ReversalRequest) (Result, error) {
	m := wireMessage{
		MTI: MTIReversal, PAN: req.PAN.Number(), STAN: req.Trace.STAN, RRN: req.Trace.RRN,
		Original: original(req.Original),
	}
	setAmount(&m, req.Amount)
	return c.send(ctx, m)
}

// Refund implements Connector.
func (c *HTTPConnector) Refund(ctx context.Context, req RefundRequest) (Result, error) {
	m := wireMessage{
		MTI: MTIFinancial, ProcessingCode: "20", PAN: req.PAN.Number(), Expiry: yymm(req.Expiry),
		STAN: req.Trace.STAN, RRN: req.Trace.RRN,
	}
	if req.Original != nil {
		m.Original = original(*req.Original)
	}
	setAmount(&m, req.Amount)
	return c.send(ctx, m)
}

// Echo implements Connector.
func (c *HTTPConnector) Echo(ctx context.Context, n Network) error {
	res, err := c.send(ctx, wireMessage{MTI: MTIEcho, Network: n.String()})
	if err != nil {
		return err
	}
	if !res.Approved() {
		return fmt.Errorf("%w: echo answered %s", ErrUnavailable, res.ResponseCode)
	}
	return nil
}

func yymm(e Expiry) string {
	if e.IsZero() {
		return ""
	}
	return e.YYMM()
}

func original(r Ref) *wireOriginal {
	return &wireOriginal{MTI: r.MTI, STAN: r.STAN, RRN: r.RRN, AuthCode: r.AuthCode}
}

func setAmount(m *wireMessage, a money.Amount) {
	m.Amount = strconv.FormatInt(a.Minor(), 10)
	if !a.Currency().IsZero() {
		m.Currency = a.Currency().Code()
	}
}

func setAuthentication(m *wireMessage, a *Authentication) {
	if a != nil {
		m.ChallengeID, m.OTP = a.ChallengeID, a.OTP
	}
}

// maxResponseBytes bounds what is read from the network: an answer is a
// few hundred bytes, so anything near this is broken.
const maxResponseBytes = 1 << 20

// send posts one message and decodes the answer. Error messages name the
// MTI, STAN and RRN, never the PAN.
func (c *HTTPConnector) send(ctx context.Context, m wireMessage) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	body, err := json.Marshal(m)
	if err != nil {
		return Result{}, fmt.Errorf("gateway: encode %s: %w", m.MTI, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("gateway: %s: %w", m.MTI, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	what := fmt.Sprintf("%s stan %s rrn %s", m.MTI, m.STAN, m.RRN)

	resp, err := c.client.Do(hreq)
	if err != nil {
		return Result{}, noAnswer(ctx, what, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return Result{}, noAnswer(ctx, what, err)
	}
	switch {
	case resp.StatusCode >= 500:
		return Result{}, fmt.Errorf("%w: %s: HTTP %d", ErrUnavailable, what, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return Result{}, fmt.Errorf("%w: %s: HTTP %d: %s", ErrRejected, what, resp.StatusCode, errorText(raw))
	}
	var w wireResponse
	if err := json.Unmarshal(raw, &w); err != nil {
		return Result{}, fmt.Errorf("%w: %s: undecodable answer: %w", ErrUnavailable, what, err)
	}
	if w.STAN != m.STAN || w.RRN != m.RRN || w.ResponseCode == "" {
		// An answer to another message (or none) is no answer to this one.
		return Result{}, fmt.Errorf("%w: %s: answer does not match the message", ErrUnavailable, what)
	}
	return toResult(m, w), nil
}

// noAnswer classifies a transport failure: our own deadline (or the
// caller's cancellation) is a timeout; anything else is unavailability.
// Both leave the outcome unknown.
func noAnswer(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: %s: %w", ErrTimeout, what, ctxErr)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, redact.Err(err))
}

func errorText(raw []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
		return e.Error.Code + ": " + e.Error.Message
	}
	return "no error body"
}

func toResult(m wireMessage, w wireResponse) Result {
	r := Result{
		Ref:          Ref{MTI: m.MTI, STAN: m.STAN, RRN: m.RRN, AuthCode: w.AuthCode},
		ResponseCode: w.ResponseCode,
		AuthCode:     w.AuthCode,
		Message:      w.Message,
		ChallengeID:  w.ChallengeID,
		Replayed:     w.Replayed,
	}
	// The card details are informative: an unknown value is left out
	// rather than failing a message the issuer has already decided.
	if n, err := ParseNetwork(w.Network); err == nil {
		r.Network = n
	}
	r.IssuerCountry = w.IssuerCountry
	if cur, err := money.LookupCurrency(w.BillingCurrency); err == nil {
		r.Currency = cur
		if v, err := strconv.ParseInt(w.Available, 10, 64); err == nil && w.Available != "" {
			a := money.New(v, cur)
			r.Available = &a
		}
	}
	return r
}
