package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ledgerAccount is GET /admin/v1/ledger/accounts/{code}.
type ledgerAccount struct {
	Posted moneyJSON `json:"posted"`
}

// FeesBalance returns the posted balance of revenue:fees (0 when it does
// not exist yet).
func FeesBalance(ctx context.Context, c *Client) (int64, error) {
	r, err := c.AdminGet(ctx, "verify", "/admin/v1/ledger/accounts/"+url.PathEscape("revenue:fees"))
	if err != nil {
		return 0, err
	}
	if r.Status == 404 {
		return 0, nil
	}
	var a ledgerAccount
	if !r.OK() {
		return 0, fmt.Errorf("revenue:fees: %d %s", r.Status, r.Code())
	}
	if err := json.Unmarshal(r.Body, &a); err != nil {
		return 0, err
	}
	return parseFen(a.Posted.Value)
}

// Gather reads the server's side of every journaled object through the
// partner and admin APIs, with a few requests in parallel.
func Gather(ctx context.Context, c *Client, visitors, merchants []string, effects []Effect, feesBefore int64) (ServerState, error) {
	s := ServerState{Visitors: map[string]VisitorState{}, Payments: map[string]PaymentState{}, Merchants: map[string]int64{},
		GatheredAt: time.Now()}
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	spawn := func(f func() error) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := f(); err != nil {
				fail(err)
			}
		})
	}
	for _, v := range visitors {
		spawn(func() error {
			st, err := visitorState(ctx, c, v)
			if err != nil {
				return err
			}
			mu.Lock()
			s.Visitors[v] = st
			mu.Unlock()
			return nil
		})
	}
	for _, m := range merchants {
		spawn(func() error {
			var out struct{ Balance moneyJSON }
			if err := getJSON(ctx, c, false, "/v1/merchants/"+m, &out); err != nil {
				return err
			}
			b, err := parseFen(out.Balance.Value)
			mu.Lock()
			s.Merchants[m] = b
			mu.Unlock()
			return err
		})
	}
	for _, e := range effects {
		if e.Kind != EffectPayment {
			continue
		}
		spawn(func() error {
			var p struct {
				Status                     string
				Amount, Refunded, Released moneyJSON
				AutoReleaseAt              string `json:"auto_release_at"`
				ReleasedAt                 string `json:"released_at"`
			}
			if err := getJSON(ctx, c, false, "/v1/payments/"+e.ID, &p); err != nil {
				return err
			}
			ps := PaymentState{VisitorID: e.VisitorID, Status: p.Status}
			ps.AutoReleaseAt, _ = time.Parse(time.RFC3339, p.AutoReleaseAt)
			ps.ReleasedAt, _ = time.Parse(time.RFC3339, p.ReleasedAt)
			var err error
			for _, f := range []struct {
				dst *int64
				v   string
			}{{&ps.Amount, p.Amount.Value}, {&ps.Refunded, p.Refunded.Value}, {&ps.Released, p.Released.Value}} {
				if *f.dst, err = parseFen(f.v); err != nil {
					return err
				}
			}
			var a ledgerAccount
			if err := getJSON(ctx, c, true, "/admin/v1/ledger/accounts/"+url.PathEscape("escrow:"+e.ID), &a); err != nil {
				return err
			}
			if ps.Escrow, err = parseFen(a.Posted.Value); err != nil {
				return err
			}
			mu.Lock()
			s.Payments[e.ID] = ps
			mu.Unlock()
			return nil
		})
	}
	wg.Wait()
	if firstErr != nil {
		return s, firstErr
	}
	fees, err := FeesBalance(ctx, c)
	if err != nil {
		return s, err
	}
	s.FeesDelta = fees - feesBefore
	var rec struct {
		Breaks []map[string]any `json:"breaks"`
	}
	if err := getJSON(ctx, c, true, "/admin/v1/reconciliation", &rec); err != nil {
		return s, err
	}
	for _, b := range rec.Breaks {
		j, _ := json.Marshal(b)
		s.Breaks = append(s.Breaks, string(j))
	}
	lag, err := jobLag(ctx, c)
	if err != nil {
		return s, err
	}
	s.JobLag = lag
	if s.Jobs, err = jobRuns(ctx, c); err != nil {
		return s, err
	}
	return s, nil
}

// JobRuns is what the replicas' /metrics say about one background job.
type JobRuns struct {
	// Runs is inbound_job_runs_total (both results) per replica, in the
	// order of the admin URLs.
	Runs []int64 `json:"runs"`
	// Interval is inbound_job_interval_seconds.
	Interval float64 `json:"interval_seconds"`
	// LeaseLost is inbound_job_lease_lost_total over all replicas.
	LeaseLost int64 `json:"lease_lost"`
}

// Total is the runs of all replicas.
func (j JobRuns) Total() int64 {
	var n int64
	for _, r := range j.Runs {
		n += r
	}
	return n
}

// jobRuns reads every replica's job series from its admin port; nil when
// the servers do not export inbound_job_interval_seconds.
func jobRuns(ctx context.Context, c *Client) (map[string]*JobRuns, error) {
	out := map[string]*JobRuns{}
	for i, base := range c.Admin {
		one := &Client{Admin: []string{base}, Staff: c.Staff, Deadline: c.Deadline, Stats: c.Stats, HTTP: c.HTTP}
		r, err := one.AdminGet(ctx, "verify", "/metrics")
		if err != nil {
			return nil, err
		}
		if !r.OK() {
			return nil, nil // metrics elsewhere (INBOUND_METRICS_ADDR): not checked
		}
		sc := bufio.NewScanner(bytes.NewReader(r.Body))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			name, job, v, ok := jobSample(sc.Text())
			if !ok {
				continue
			}
			j := out[job]
			if j == nil {
				j = &JobRuns{}
				out[job] = j
			}
			for len(j.Runs) <= i {
				j.Runs = append(j.Runs, 0)
			}
			switch name {
			case "inbound_job_runs_total":
				j.Runs[i] += int64(v)
			case "inbound_job_interval_seconds":
				j.Interval = v
			case "inbound_job_lease_lost_total":
				j.LeaseLost += int64(v)
			}
		}
	}
	for _, j := range out {
		if j.Interval == 0 {
			return nil, nil // a server older than inbound_job_interval_seconds
		}
		for len(j.Runs) < len(c.Admin) {
			j.Runs = append(j.Runs, 0)
		}
	}
	return out, nil
}

// jobSample parses a Prometheus text line of a per-job series:
// name{job="x",...} value.
func jobSample(line string) (name, job string, v float64, ok bool) {
	open := strings.IndexByte(line, '{')
	end := strings.LastIndexByte(line, '}')
	if open < 0 || end < open {
		return "", "", 0, false
	}
	name = line[:open]
	switch name {
	case "inbound_job_runs_total", "inbound_job_interval_seconds", "inbound_job_lease_lost_total":
	default:
		return "", "", 0, false
	}
	for _, l := range strings.Split(line[open+1:end], ",") {
		if k, val, found := strings.Cut(l, "="); found && k == "job" {
			job = strings.Trim(val, `"`)
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
	if err != nil || job == "" {
		return "", "", 0, false
	}
	return name, job, v, true
}

func getJSON(ctx context.Context, c *Client, admin bool, path string, v any) error {
	get := c.Get
	if admin {
		get = c.AdminGet
	}
	r, err := get(ctx, "verify", path)
	if err != nil {
		return err
	}
	if !r.OK() {
		return fmt.Errorf("GET %s: %d %s", path, r.Status, r.Code())
	}
	return json.Unmarshal(r.Body, v)
}

func visitorState(ctx context.Context, c *Client, id string) (VisitorState, error) {
	var st VisitorState
	var acct struct{ Available moneyJSON }
	if err := getJSON(ctx, c, false, "/v1/visitors/"+id+"/account", &acct); err != nil {
		return st, err
	}
	var err error
	if st.Available, err = parseFen(acct.Available.Value); err != nil {
		return st, err
	}
	cursor := ""
	for range 10000 {
		var page struct {
			Data []struct {
				Type, Reference string
				Amount          moneyJSON
			}
			HasMore    bool   `json:"has_more"`
			NextCursor string `json:"next_cursor"`
		}
		if err := getJSON(ctx, c, false, "/v1/visitors/"+id+"/transactions?limit=100&cursor="+url.QueryEscape(cursor), &page); err != nil {
			return st, err
		}
		for _, t := range page.Data {
			a, err := parseFen(t.Amount.Value)
			if err != nil {
				return st, err
			}
			st.Txs = append(st.Txs, Tx{Type: t.Type, Reference: t.Reference, Amount: a})
		}
		if !page.HasMore {
			return st, nil
		}
		cursor = page.NextCursor
	}
	return st, fmt.Errorf("visitor %s: too many transactions", id)
}

// jobLag reads the largest inbound_job_lag_seconds from the admin port's
// /metrics; nil when the server does not export it.
func jobLag(ctx context.Context, c *Client) (*float64, error) {
	r, err := c.AdminGet(ctx, "verify", "/metrics")
	if err != nil {
		return nil, err
	}
	if !r.OK() {
		return nil, nil // metrics elsewhere (INBOUND_METRICS_ADDR): not checked
	}
	var worst *float64
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "inbound_job_lag_seconds") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		if worst == nil || v > *worst {
			worst = &v
		}
	}
	return worst, nil
}
