package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Config is one run of `inbound load`.
type Config struct {
	Clients  int
	Rate     int // logical requests per second over all clients; 0: as fast as the clients go
	Duration time.Duration
	Deadline time.Duration // per request, retries included
	Settle   time.Duration // wait after the load before reading the server
	Faults   []Fault
	Down     time.Duration // how long a killed component stays down

	// Targets given (-target): partner and admin base URLs, credentials,
	// and the card network's URL for network faults (optional).
	Partner, Admin []string
	Key, Staff     string
	CardnetURL     string
	// VerifyDatabaseURL, with -target, is the targets' database for
	// `inbound ledger verify` (run with InboundBin).
	VerifyDatabaseURL string
	InboundBin        string
	// Cluster, when set, is started by the tool instead.
	Cluster *ClusterOptions

	ReportDir string
	Progress  io.Writer
	TTY       bool
	Seed      uint64
	Scenario  string
}

// Verdict is the one JSON line printed at the end.
type Verdict struct {
	Verdict        string             `json:"verdict"` // pass or fail
	Scenario       string             `json:"scenario,omitempty"`
	Duration       string             `json:"duration"`
	Clients        int                `json:"clients"`
	Replicas       int                `json:"replicas"`
	Requests       int                `json:"requests"`
	Unresolved     int                `json:"unresolved"`
	Visitors       int                `json:"visitors"`
	Merchants      int                `json:"merchants"`
	Effects        map[EffectKind]int `json:"effects"`
	Checks         map[string]string  `json:"checks"`
	ViolationCount int                `json:"violation_count"`
	ByKind         map[string]int     `json:"violations_by_kind"`
	Violations     []Violation        `json:"violations"`
	Faults         []FaultMark        `json:"faults"`
	BreaksByRule   map[string]int     `json:"reconciliation_breaks_by_rule,omitempty"`
	Answers        map[string]int     `json:"non_2xx_answers,omitempty"`
	Slowest        map[string]string  `json:"slowest,omitempty"`
	Report         string             `json:"report,omitempty"`
	Notes          []string           `json:"notes,omitempty"`
	// JobRuns are the background jobs' runs per replica (jobs_once).
	JobRuns map[string]*JobRuns `json:"job_runs,omitempty"`
}

// maxListed caps the violations printed in the verdict line.
const maxListed = 40

// Run runs the load, the faults and the verification. The error is for
// a run that could not be made (a cluster that did not start); violations
// are in the verdict.
func Run(ctx context.Context, cfg Config) (Verdict, error) {
	logf := func(format string, a ...any) { fmt.Fprintf(cfg.Progress, format+"\n", a...) }
	var cl *Cluster
	began := time.Now() // before any replica starts: bounds their uptime
	if cfg.Cluster != nil {
		o := *cfg.Cluster
		o.Log = logf
		logf("starting %d replica(s), card network%s%s in %s", o.Replicas, cond(o.OwnPostgres, ", PostgreSQL"), cond(o.OwnRedis, ", Redis"), o.Dir)
		var err error
		if cl, err = StartCluster(ctx, o); err != nil {
			return Verdict{}, err
		}
		defer cl.Stop()
		cfg.Partner, cfg.Admin, cfg.Key, cfg.Staff, cfg.CardnetURL = cl.Partner, cl.Admin, cl.Key, cl.Staff, cl.CardnetURL
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
	start := time.Now()
	stats := NewStats(start)
	c := &Client{Partner: cfg.Partner, Admin: cfg.Admin, Key: cfg.Key, Staff: cfg.Staff, Deadline: cfg.Deadline, Stats: stats, HTTP: httpc}
	verifyClient := &Client{Partner: cfg.Partner, Admin: cfg.Admin, Key: cfg.Key, Staff: cfg.Staff, Deadline: max(cfg.Deadline, 30*time.Second),
		Stats: NewStats(start), HTTP: httpc}
	feesBefore, err := FeesBalance(ctx, verifyClient)
	if err != nil {
		return Verdict{}, fmt.Errorf("read revenue:fees before the run: %w", err)
	}

	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.Duration)
	defer stopLoad()
	if cfg.Rate > 0 {
		c.Limit = limiter(loadCtx, cfg.Rate)
	}
	j := &Journal{}
	w := &Workload{C: c, J: j, Log: logf}
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		wg.Go(func() { w.Client(loadCtx, cfg.Seed+uint64(i)*7919+1) }) //nolint:gosec // a seed; any bit pattern will do
	}
	var notes []string
	var fmu sync.Mutex
	var fwg sync.WaitGroup
	for _, f := range cfg.Faults {
		fwg.Go(func() {
			if err := runFault(loadCtx, cl, cfg, stats, f, httpc); err != nil {
				fmu.Lock()
				notes = append(notes, fmt.Sprintf("fault %s at %s: %v", f, f.At, err))
				fmu.Unlock()
				logf("fault %s: %v", f, err)
			}
		})
	}
	progressDone := make(chan struct{})
	go progress(loadCtx, cfg, stats, progressDone)
	wg.Wait()
	fwg.Wait()
	stopLoad()
	<-progressDone
	if cfg.Settle > 0 {
		logf("load done after %s; settling %s before reading the server", time.Since(start).Round(time.Second), cfg.Settle)
		sleep(ctx, cfg.Settle)
	}

	visitors, merchants, effects := j.Snapshot()
	buckets, faults, unresolved, requests := stats.Snapshot()
	v := Verdict{Scenario: cfg.Scenario, Duration: cfg.Duration.String(), Clients: cfg.Clients, Replicas: len(cfg.Partner),
		Requests: requests, Unresolved: len(unresolved), Visitors: len(visitors), Merchants: len(merchants),
		Effects: j.Count(), Faults: faults, Answers: w.Failures(), Slowest: stats.Slowest(), Checks: map[string]string{}, ByKind: map[string]int{}}
	logf("reading the server: %d visitors, %d merchants, %d effects", len(visitors), len(merchants), len(effects))
	state, gerr := Gather(ctx, verifyClient, visitors, merchants, effects, feesBefore)
	var violations []Violation
	if gerr != nil {
		violations = append(violations, Violation{Kind: VServerUnread, Detail: gerr.Error()})
	}
	if cl != nil || cfg.VerifyDatabaseURL != "" {
		var out string
		var err error
		if cl != nil {
			out, err = cl.LedgerVerify(ctx)
		} else {
			out, err = LedgerVerify(ctx, cfg.InboundBin, cfg.VerifyDatabaseURL, "")
		}
		switch {
		case err != nil:
			notes = append(notes, "inbound ledger verify could not run: "+err.Error())
			v.Checks["ledger_verify"] = "error"
		default:
			state.LedgerVerify = out
			v.Checks["ledger_verify"] = okIf(out == "")
		}
	} else {
		v.Checks["ledger_verify"] = "skipped: -target without -database-url; the reconciliation's ledger invariants stand in"
	}
	state.Window = time.Since(began)
	if cfg.Cluster == nil {
		state.Window = 0 // targets started before the tool: uptime unknown
	}
	violations = append(violations, Verify(visitors, effects, state, len(unresolved))...)
	violations = append(violations, LateAfterFaults(faults)...)
	if state.JobLag == nil {
		v.Checks["job_lag"] = "skipped: the server exports no inbound_job_lag_seconds"
	}
	for _, x := range violations {
		v.ByKind[x.Kind]++
	}
	for _, b := range state.Breaks {
		var br struct{ Check, Rule string }
		_ = json.Unmarshal([]byte(b), &br)
		if v.BreaksByRule == nil {
			v.BreaksByRule = map[string]int{}
		}
		v.BreaksByRule[br.Check+"/"+br.Rule]++
	}
	check := func(name string, kinds ...string) {
		n := 0
		for _, k := range kinds {
			n += v.ByKind[k]
		}
		if _, set := v.Checks[name]; !set || n > 0 {
			v.Checks[name] = okIf(n == 0)
		}
	}
	check("exactly_once", VMissingEffect, VDoubleEffect, VUnknownEffect, VAmountMismatch)
	check("balances", VBalanceMismatch)
	check("money_conserved", VMoneyMismatch)
	check("reconciliation", VReconciliation)
	check("unresolved", VUnresolved)
	if len(faults) > 0 {
		check("answered_after_fault", VLateAfterFault)
	}
	check("server_read", VServerUnread)
	v.Checks["auto_release"] = autoReleaseSummary(effects, state)
	check("auto_release", VReleaseLate)
	if state.JobLag != nil {
		check("job_lag", VJobLag)
	}
	if state.Jobs != nil {
		check("jobs_once", VJobTwice)
		v.JobRuns = state.Jobs
	} else {
		v.Checks["jobs_once"] = "skipped: the server exports no inbound_job_interval_seconds"
	}
	v.ViolationCount = len(violations)
	v.Violations = violations[:min(len(violations), maxListed)]
	if v.Violations == nil {
		v.Violations = []Violation{}
	}
	v.Verdict = "pass"
	if len(violations) > 0 {
		v.Verdict = "fail"
	}
	for _, u := range unresolved[:min(len(unresolved), 10)] {
		notes = append(notes, "unresolved: "+u)
	}
	v.Notes = notes
	if cfg.ReportDir != "" {
		if err := WriteReport(cfg.ReportDir, v, buckets, violations); err != nil {
			return v, fmt.Errorf("report: %w", err)
		}
		v.Report = cfg.ReportDir
	}
	return v, nil
}

func okIf(ok bool) string {
	if ok {
		return "ok"
	}
	return "fail"
}

func cond(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

// limiter hands out rate tokens a second until ctx ends.
func limiter(ctx context.Context, rate int) func(context.Context) error {
	tokens := make(chan struct{}, max(rate/10, 1))
	go func() {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case tokens <- struct{}{}:
				default:
				}
			}
		}
	}()
	return func(c context.Context) error {
		select {
		case <-tokens:
			return nil
		case <-c.Done():
			return c.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func progress(ctx context.Context, cfg Config, s *Stats, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if cfg.TTY {
				fmt.Fprintln(cfg.Progress)
			}
			return
		case <-t.C:
			if cfg.TTY {
				fmt.Fprintf(cfg.Progress, "\r\033[K%s", s.Progress())
			} else {
				fmt.Fprintln(cfg.Progress, s.Progress())
			}
		}
	}
}

// runFault waits for the fault's time, does it, and marks it.
func runFault(ctx context.Context, cl *Cluster, cfg Config, s *Stats, f Fault, httpc *http.Client) error {
	sleep(ctx, f.At)
	if ctx.Err() != nil {
		return nil
	}
	needCluster := func() error {
		if cl == nil {
			return errors.New("needs the processes the tool starts itself (no -target)")
		}
		return nil
	}
	switch f.Kind {
	case FaultKill:
		if err := needCluster(); err != nil {
			return err
		}
		i := int(f.At/time.Second) % len(cfg.Partner)
		m := s.FaultStart(fmt.Sprintf("kill replica-%d", i))
		defer s.FaultEnd(m)
		return cl.KillReplica(ctx, i, cfg.Down)
	case FaultRedis:
		if err := needCluster(); err != nil {
			return err
		}
		m := s.FaultStart("redis down")
		defer s.FaultEnd(m)
		return cl.KillRedis(ctx, cfg.Down)
	case FaultPostgres:
		if err := needCluster(); err != nil {
			return err
		}
		m := s.FaultStart("postgres immediate restart")
		defer s.FaultEnd(m)
		return cl.RestartPostgres(ctx)
	case FaultCardnet:
		if err := needCluster(); err != nil {
			return err
		}
		m := s.FaultStart("cardnet down")
		defer s.FaultEnd(m)
		return cl.KillCardnet(ctx, cfg.Down)
	case FaultTimeouts, FaultDeclines:
		if cfg.CardnetURL == "" {
			return errors.New("needs the card network's URL (-cardnet-url with -target)")
		}
		body := map[string]any{"network": "*"}
		if f.Kind == FaultTimeouts {
			body["timeout_rate"] = f.Rate
		} else {
			body["error_rate"] = f.Rate
		}
		if err := cardnetFaults(ctx, httpc, http.MethodPost, cfg.CardnetURL, body); err != nil {
			return err
		}
		m := s.FaultStart(f.String())
		sleep(ctx, f.For)
		// Cleared even when the run ended meanwhile.
		err := cardnetFaults(context.WithoutCancel(ctx), httpc, http.MethodDelete, cfg.CardnetURL, nil)
		s.FaultEnd(m)
		return err
	}
	return nil
}

func cardnetFaults(ctx context.Context, httpc *http.Client, method, base string, body any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+"/admin/faults", rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("cardnet %s /admin/faults: %d %s", method, resp.StatusCode, b)
	}
	return nil
}

// JSON is the verdict as one line.
func (v Verdict) JSON() string {
	b, _ := json.Marshal(v)
	return string(b)
}

// autoReleaseSummary says how many payments left to auto-release fell due
// before the server was read, and the latest release among them.
func autoReleaseSummary(effects []Effect, s ServerState) string {
	due := 0
	var latest time.Duration
	for _, e := range effects {
		p, ok := s.Payments[e.ID]
		if !ok || !e.AutoRelease || p.AutoReleaseAt.IsZero() || p.AutoReleaseAt.After(s.GatheredAt) {
			continue
		}
		due++
		end := p.ReleasedAt
		if end.IsZero() {
			end = s.GatheredAt
		}
		latest = max(latest, end.Sub(p.AutoReleaseAt))
	}
	if due == 0 {
		return "ok (no payment left to auto-release fell due during the run)"
	}
	return fmt.Sprintf("ok (%d payments auto-released, the latest %s after its auto_release_at)", due, latest)
}
