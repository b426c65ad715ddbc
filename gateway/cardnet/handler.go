package cardnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
)

// NewHandler returns the simulator's HTTP API. The routes are all here:
//
//	POST   /v1/messages               one ISO 8583 message (Message -> Response)
//	GET    /v1/settlement?date=YYYY-MM-DD  the day's settlement report (Report)
//	GET    /admin/faults              the fault settings ({"data": [Fault...]})
//	POST   /admin/faults              set one network's faults (Fault)
//	DELETE /admin/faults[?network=]   clear one network's faults, or all
//	GET    /healthz                   200 when serving
//
// The admin routes have no authentication: cardnet is a test tool meant to
// listen on loopback or inside a test network.
func NewHandler(e *Engine) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", e.handleMessage)
	mux.HandleFunc("GET /v1/settlement", e.handleSettlement)
	mux.HandleFunc("GET /admin/faults", e.handleGetFaults)
	mux.HandleFunc("POST /admin/faults", e.handleSetFault)
	mux.HandleFunc("DELETE /admin/faults", e.handleClearFaults)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
	return mux
}

// maxBodyBytes bounds a request body; a message is a few hundred bytes.
const maxBodyBytes = 64 << 10

func (e *Engine) handleMessage(w http.ResponseWriter, r *http.Request) {
	var m Message
	if code, err := decodeStrict(w, r, &m); err != nil {
		writeError(w, http.StatusBadRequest, code, err.Error())
		return
	}
	ctx := r.Context()
	p := e.plan(networkOf(m))
	if p.fail {
		writeError(w, http.StatusServiceUnavailable, "injected_error", "network error (fault injection)")
		return
	}
	if p.latency > 0 && !sleep(ctx, p.latency) {
		// The client gave up while we were slow: nothing was decided.
		return
	}
	resp, err := e.Process(ctx, m)
	switch {
	case errors.Is(err, ErrNoAnswer):
		e.hang(w, r)
		return
	case errors.Is(err, ErrBadMessage):
		writeError(w, http.StatusBadRequest, "bad_message", err.Error())
		return
	case err != nil:
		// Only a cancelled request gets here; no one is listening.
		return
	}
	if p.timeout {
		// The message was decided; only the answer is lost.
		e.hang(w, r)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// networkOf names the network whose faults apply to m: the one of its PAN
// when the PAN is valid, or the one an echo names.
func networkOf(m Message) string {
	if m.MTI == MTIEcho {
		return m.Network
	}
	if p, err := cardspec.ParsePAN(m.PAN); err == nil {
		return p.Network().String()
	}
	return ""
}

// hang holds the request open without an answer until the client gives up,
// the server shuts down, or MaxHang passes; then it answers 504 to whoever
// is still there.
func (e *Engine) hang(w http.ResponseWriter, r *http.Request) {
	if sleep(r.Context(), e.maxHang) {
		writeError(w, http.StatusGatewayTimeout, "no_answer", "the issuer did not answer")
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (e *Engine) handleSettlement(w http.ResponseWriter, r *http.Request) {
	day, err := time.Parse(time.DateOnly, r.URL.Query().Get("date"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_date", "date must be YYYY-MM-DD")
		return
	}
	writeJSON(w, http.StatusOK, e.Settlement(day))
}

func (e *Engine) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]Fault{"data": e.Faults()})
}

func (e *Engine) handleSetFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if code, err := decodeStrict(w, r, &f); err != nil {
		writeError(w, http.StatusBadRequest, code, err.Error())
		return
	}
	if err := e.SetFault(f); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_fault", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string][]Fault{"data": e.Faults()})
}

func (e *Engine) handleClearFaults(w http.ResponseWriter, r *http.Request) {
	e.ClearFaults(r.URL.Query().Get("network"))
	writeJSON(w, http.StatusOK, map[string][]Fault{"data": e.Faults()})
}

// decodeStrict reads one JSON object, refusing unknown fields and trailing
// data; it returns an error code for the answer.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) (string, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// encoding/json has no error type for an unknown field; its
		// message is the only way to tell it from a syntax error.
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return "unknown_field", fmt.Errorf("cardnet: %w", err)
		}
		return "invalid_json", fmt.Errorf("cardnet: request body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "invalid_json", errors.New("cardnet: request body: trailing data after the object")
	}
	return "", nil
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve serves h on ln until ctx ends, then shuts down gracefully: new
// connections are refused, held (no-answer) requests are released, and
// requests in flight get up to grace to finish.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	// Requests derive their context from base, so cancelling it at
	// shutdown releases handlers that hang on purpose.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("cardnet: serve: %w", err)
	case <-ctx.Done():
	}
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("cardnet: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("cardnet: serve: %w", err)
	}
	return nil
}
