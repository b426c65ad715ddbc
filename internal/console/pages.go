package console

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/adjustment"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/recon"
	"github.com/inbound-gateway/inbound/internal/webhook"
	"github.com/inbound-gateway/inbound/kyc"
	"github.com/inbound-gateway/inbound/prepaid"
)

const pageSize = 20

func (c *Console) page(w http.ResponseWriter, r *http.Request, s session, name, title string, data any) {
	c.render(w, r, http.StatusOK, name, view{Title: title, Staff: s.staff, CSRF: s.csrf(), Flash: r.URL.Query().Get("done"), Data: data})
}

type homeData struct {
	Now            time.Time
	OpenReviews    int64
	OldestReviews  []kyc.Review
	OpenDisputes   int64
	PendingAdjusts int64
	Recon          *reconRun
	FailingHooks   int
	LateJobs       int
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	d := homeData{Now: c.now()}
	var err error
	if d.OpenReviews, err = c.count(ctx, "reviews", "status = ?", "open"); err != nil {
		c.fail(w, r, err)
		return
	}
	pg, err := c.api.KYC.Reviews(ctx, kyc.ReviewQuery{Status: kyc.ReviewOpen, Limit: 5})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.OldestReviews = pg.Reviews
	if d.OpenDisputes, err = c.count(ctx, "escrow_payments", "status = ?", string(escrow.Disputed)); err != nil {
		c.fail(w, r, err)
		return
	}
	if d.PendingAdjusts, err = c.count(ctx, "adjustments", "status = ?", string(adjustment.Proposed)); err != nil {
		c.fail(w, r, err)
		return
	}
	if d.Recon, err = c.latestRecon(ctx); err != nil {
		c.fail(w, r, err)
		return
	}
	hooks, err := c.failingEndpoints(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.FailingHooks = len(hooks)
	late, err := c.lateJobs(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.LateJobs = len(late)
	c.page(w, r, s, "home", "Home", d)
}

type findData struct {
	Query    map[string]string
	Searched bool
	Visitors []kyc.Visitor
	Payments []escrow.Payment
}

// find looks a visitor up: passport number + issuing state (the keyed-hash
// index, never a scan), visitor id, card last4 + expiry, or payment id /
// out_trade_no.
func (c *Console) find(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	q := r.URL.Query()
	d := findData{Query: map[string]string{}}
	for _, k := range []string{"passport_number", "issuing_state", "visitor_id", "last4", "expiry", "payment"} {
		d.Query[k] = strings.TrimSpace(q.Get(k))
	}
	v := view{Title: "Find a visitor", Staff: s.staff, CSRF: s.csrf(), FieldErrors: map[string]string{}, Data: &d}
	var err error
	switch {
	case d.Query["passport_number"] != "" || d.Query["issuing_state"] != "":
		d.Searched = true
		switch {
		case d.Query["passport_number"] == "":
			v.FieldErrors["passport_number"] = "passport_number is required."
		case d.Query["issuing_state"] == "":
			v.FieldErrors["issuing_state"] = "issuing_state is required."
		default:
			d.Visitors, err = c.api.KYC.FindByPassport(ctx, strings.ToUpper(d.Query["issuing_state"]), strings.ToUpper(d.Query["passport_number"]))
		}
	case d.Query["visitor_id"] != "":
		d.Searched = true
		var vis kyc.Visitor
		vis, err = c.api.KYC.GetAny(ctx, d.Query["visitor_id"])
		if errors.Is(err, kyc.ErrNotFound) {
			err = nil
		}
		if err == nil && vis.ID != "" {
			d.Visitors = []kyc.Visitor{vis}
		}
	case d.Query["last4"] != "" || d.Query["expiry"] != "":
		d.Searched = true
		err = c.findByCard(ctx, &d, v.FieldErrors)
	case d.Query["payment"] != "":
		d.Searched = true
		err = c.findByPayment(ctx, &d)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if len(v.FieldErrors) > 0 {
		status = http.StatusBadRequest
	}
	c.render(w, r, status, "find", v)
}

func (c *Console) findByCard(ctx context.Context, d *findData, errs map[string]string) error {
	last4, exp := d.Query["last4"], d.Query["expiry"]
	if len(last4) != 4 || strings.Trim(last4, "0123456789") != "" {
		errs["last4"] = "last4 must be the card's last four digits."
		return nil
	}
	month, year, ok := parseExpiry(exp)
	if !ok {
		errs["expiry"] = "expiry must be MM/YY or MM/YYYY."
		return nil
	}
	vids, err := c.pluck(ctx, "cards", "visitor_id", "last4 = ? AND exp_month = ? AND exp_year = ?", last4, month, year)
	if err != nil {
		return err
	}
	return c.addVisitors(ctx, d, vids)
}

func parseExpiry(s string) (month, year int, ok bool) {
	m, y, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	month, err1 := strconv.Atoi(strings.TrimSpace(m))
	year, err2 := strconv.Atoi(strings.TrimSpace(y))
	if err1 != nil || err2 != nil || month < 1 || month > 12 || year < 0 {
		return 0, 0, false
	}
	if year < 100 {
		year += 2000
	}
	return month, year, true
}

func (c *Console) findByPayment(ctx context.Context, d *findData) error {
	ref := d.Query["payment"]
	pids, err := c.pluck(ctx, "escrow_payments", "id", "id = ? OR out_trade_no = ?", ref, ref)
	if err != nil {
		return err
	}
	var vids []string
	for _, id := range pids {
		p, err := c.api.Escrow.Get(ctx, "", id)
		if err != nil {
			return err
		}
		d.Payments = append(d.Payments, p)
		vids = append(vids, p.VisitorID)
	}
	return c.addVisitors(ctx, d, vids)
}

func (c *Console) addVisitors(ctx context.Context, d *findData, vids []string) error {
	seen := map[string]bool{}
	for _, id := range vids {
		if seen[id] {
			continue
		}
		seen[id] = true
		v, err := c.api.KYC.GetAny(ctx, id)
		if err != nil {
			return err
		}
		d.Visitors = append(d.Visitors, v)
	}
	return nil
}

type visitorData struct {
	Now          time.Time
	V            kyc.Visitor
	Screening    *kyc.ScreeningRecord
	Reviews      []kyc.Review
	OpenReview   *kyc.Review
	Cards        []gateway.Card
	Account      *prepaid.View
	LedgerCode   string
	Transactions prepaid.TransactionPage
	TxCursor     string
	Payments     []escrow.Payment
	Audit        []auditRow
}

// visitor is everything support needs about one visitor on one page.
func (c *Console) visitor(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	vis, err := c.api.KYC.GetAny(ctx, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := visitorData{Now: c.now(), V: vis, LedgerCode: prepaid.LedgerCode(vis.ID), TxCursor: r.URL.Query().Get("tx_cursor")}
	if err := c.fillVisitor(ctx, &d); err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, s, "visitor", "Visitor "+vis.ID, d)
}

func (c *Console) fillVisitor(ctx context.Context, d *visitorData) error {
	vis := d.V
	recs, err := c.api.KYC.Screenings(ctx, vis.ID)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		d.Screening = &recs[len(recs)-1]
	}
	rids, err := c.pluck(ctx, "reviews", "id", "visitor_id = ?", vis.ID)
	if err != nil {
		return err
	}
	for _, id := range rids {
		rv, err := c.api.KYC.Review(ctx, id)
		if err != nil {
			return err
		}
		d.Reviews = append(d.Reviews, rv)
		if rv.Status == kyc.ReviewOpen {
			d.OpenReview = &d.Reviews[len(d.Reviews)-1]
		}
	}
	if d.Cards, err = c.api.Cards.List(ctx, vis.PartnerID, vis.ID); err != nil {
		return err
	}
	acct, err := c.api.Prepaid.View(ctx, vis.PartnerID, vis.ID)
	switch {
	case errors.Is(err, prepaid.ErrNotFound):
	case err != nil:
		return err
	default:
		d.Account = &acct
		if d.Transactions, err = c.api.Prepaid.Transactions(ctx, vis.PartnerID, vis.ID, d.TxCursor, pageSize); err != nil {
			return err
		}
	}
	pays, err := c.api.Escrow.List(ctx, vis.PartnerID, escrow.Filter{VisitorID: vis.ID, Limit: 50})
	if err != nil {
		return err
	}
	d.Payments = pays.Payments
	targets := append([]string{vis.ID}, rids...)
	for _, p := range d.Payments {
		targets = append(targets, p.ID)
	}
	d.Audit, _, err = c.auditRows(ctx, auditFilter{Targets: targets, Limit: 50})
	return err
}

type reviewsData struct {
	Now     time.Time
	Status  string
	Reviews []kyc.Review
	Next    string
}

// reviews is the review queue, oldest first, filtered by status.
func (c *Console) reviews(w http.ResponseWriter, r *http.Request, s session) {
	status := r.URL.Query().Get("status")
	if status == "" {
		status = "open"
	}
	q := kyc.ReviewQuery{Status: kyc.ReviewStatus(status), Limit: pageSize, Cursor: r.URL.Query().Get("cursor")}
	if status == "all" {
		q.Status = ""
	}
	pg, err := c.api.KYC.Reviews(r.Context(), q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := reviewsData{Now: c.now(), Status: status, Reviews: pg.Reviews}
	if pg.HasMore {
		d.Next = pg.NextCursor
	}
	c.page(w, r, s, "reviews", "Review queue", d)
}

type paymentsData struct {
	Payments []escrow.Payment
	Next     string
}

// disputes lists disputed payments of every partner, newest first.
func (c *Console) disputes(w http.ResponseWriter, r *http.Request, s session) {
	ids, more, err := c.ids(r.Context(), "escrow_payments", "status = ?", r.URL.Query().Get("cursor"), pageSize, string(escrow.Disputed))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := paymentsData{}
	for _, id := range ids {
		p, err := c.api.Escrow.Get(r.Context(), "", id)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d.Payments = append(d.Payments, p)
	}
	if more {
		d.Next = ids[len(ids)-1]
	}
	c.page(w, r, s, "disputes", "Open disputes", d)
}

func (c *Console) payment(w http.ResponseWriter, r *http.Request, s session) {
	p, err := c.api.Escrow.Get(r.Context(), "", r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, s, "payment", "Payment "+p.ID, p)
}

type adjustmentsData struct {
	Status      string
	Adjustments []adjustment.Adjustment
	Next        string
}

func (c *Console) adjustments(w http.ResponseWriter, r *http.Request, s session) {
	status := r.URL.Query().Get("status")
	if status != string(adjustment.Approved) && status != string(adjustment.Rejected) {
		status = string(adjustment.Proposed)
	}
	ids, more, err := c.ids(r.Context(), "adjustments", "status = ?", r.URL.Query().Get("cursor"), pageSize, status)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := adjustmentsData{Status: status}
	for _, id := range ids {
		a, err := c.api.Adjustments.Get(r.Context(), id)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d.Adjustments = append(d.Adjustments, a)
	}
	if more {
		d.Next = ids[len(ids)-1]
	}
	c.page(w, r, s, "adjustments", "Adjustments", d)
}

type adjustmentData struct {
	A     adjustment.Adjustment
	Lines []ledgerLine
}

func (c *Console) adjustment(w http.ResponseWriter, r *http.Request, s session) {
	a, err := c.api.Adjustments.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, s, "adjustment", "Adjustment "+a.ID, adjustmentData{A: a, Lines: adjustmentLines(a.AccountCode, a.Amount)})
}

type reconData struct {
	Day    string
	Ran    bool
	Groups []breakGroup
	Total  int
	Latest *reconRun
}

type breakGroup struct {
	Rule   string
	Breaks []recon.Break
}

func (c *Console) reconciliation(w http.ResponseWriter, r *http.Request, s session) {
	latest, err := c.latestRecon(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, s, "reconciliation", "Reconciliation", reconData{Day: c.now().Format(time.DateOnly), Latest: latest})
}

// runReconciliation runs every check for a day (as the admin API's
// GET /admin/v1/reconciliation) and shows the breaks grouped by rule.
func (c *Console) runReconciliation(w http.ResponseWriter, r *http.Request, s session) {
	dayText := strings.TrimSpace(r.PostFormValue("date"))
	day, err := time.Parse(time.DateOnly, dayText)
	if err != nil {
		c.render(w, r, http.StatusBadRequest, "reconciliation", view{Title: "Reconciliation", Staff: s.staff, CSRF: s.csrf(),
			FieldErrors: map[string]string{"date": "date must be YYYY-MM-DD."}, Data: reconData{Day: dayText}})
		return
	}
	breaks, err := c.api.Reconcile(r.Context(), day)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	run := reconRun{Day: dayText, Breaks: len(breaks), RunBy: s.staff.ID, CreatedAt: c.now()}
	if err := c.api.DB.WithContext(r.Context()).Create(&run).Error; err != nil {
		c.fail(w, r, err)
		return
	}
	d := reconData{Day: dayText, Ran: true, Total: len(breaks), Latest: &run}
	idx := map[string]int{}
	for _, b := range breaks {
		i, ok := idx[b.Rule]
		if !ok {
			i = len(d.Groups)
			idx[b.Rule] = i
			d.Groups = append(d.Groups, breakGroup{Rule: b.Rule})
		}
		d.Groups[i].Breaks = append(d.Groups[i].Breaks, b)
	}
	c.page(w, r, s, "reconciliation", "Reconciliation", d)
}

type auditData struct {
	Filter map[string]string
	Rows   []auditRow
	Next   string
	Query  string
}

func (c *Console) auditFilterOf(r *http.Request, errs map[string]string) (auditFilter, map[string]string) {
	q := r.URL.Query()
	shown := map[string]string{}
	f := auditFilter{Limit: pageSize, Before: q.Get("cursor")}
	for _, k := range []string{"actor", "action", "target", "from", "to"} {
		shown[k] = strings.TrimSpace(q.Get(k))
	}
	f.Actor, f.Action, f.Target = shown["actor"], shown["action"], shown["target"]
	for _, k := range []string{"from", "to"} {
		if shown[k] == "" {
			continue
		}
		t, err := parseWhen(shown[k])
		if err != nil {
			errs[k] = k + " must be YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)."
			continue
		}
		if k == "from" {
			f.From = t
		} else {
			f.To = t
		}
	}
	return f, shown
}

func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// auditLog is the audit log, newest first, filtered by actor, action,
// target and time.
func (c *Console) auditLog(w http.ResponseWriter, r *http.Request, s session) {
	errs := map[string]string{}
	f, shown := c.auditFilterOf(r, errs)
	v := view{Title: "Audit log", Staff: s.staff, CSRF: s.csrf(), FieldErrors: errs}
	d := auditData{Filter: shown}
	if len(errs) == 0 {
		rows, more, err := c.auditRows(r.Context(), f)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d.Rows = rows
		if more {
			d.Next = rows[len(rows)-1].ID
		}
	}
	q := r.URL.Query()
	q.Del("cursor")
	d.Query = q.Encode()
	v.Data = d
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusBadRequest
	}
	c.render(w, r, status, "audit", v)
}

// auditCSV exports the filtered audit log (up to 10,000 records).
func (c *Console) auditCSV(w http.ResponseWriter, r *http.Request, s session) {
	errs := map[string]string{}
	f, _ := c.auditFilterOf(r, errs)
	if len(errs) > 0 {
		c.renderError(w, r, http.StatusBadRequest, "The filter is not valid: fix it on the audit page first.")
		return
	}
	f.Limit, f.Before = 10000, ""
	rows, _, err := c.auditRows(r.Context(), f)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "created_at", "actor", "role", "action", "target", "reason", "request_id", "after"})
	for _, e := range rows {
		_ = cw.Write([]string{e.ID, e.CreatedAt.UTC().Format(time.RFC3339), csvSafe(e.ActorID), e.ActorRole, e.Action,
			csvSafe(e.Target), csvSafe(e.Reason), e.RequestID, csvSafe(e.After)})
	}
	cw.Flush()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, s session) {
	eps, err := c.failingEndpoints(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, s, "webhooks", "Failing webhook endpoints", eps)
}

type webhookEndpointData struct {
	EndpointID string
	Failed     []webhook.Delivery
}

// webhookEndpoint lists an endpoint's failed deliveries, each with a
// Retry action for supervisors.
func (c *Console) webhookEndpoint(w http.ResponseWriter, r *http.Request, s session) {
	id := r.PathValue("id")
	failed, err := c.api.Webhooks.FailedDeliveries(r.Context(), id, pageSize)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, s, "webhook", "Webhook endpoint "+id, webhookEndpointData{EndpointID: id, Failed: failed})
}

type jobsData struct {
	Now  time.Time
	Jobs []jobRow
}

func (c *Console) jobs(w http.ResponseWriter, r *http.Request, s session) {
	js, err := c.jobRows(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, s, "jobs", "Background jobs", jobsData{Now: c.now(), Jobs: js})
}

type directoryData struct {
	Staff    []memberRow
	Partners []partnerRow
}

// staffPage lists partners and staff (supervisors only) with their actions.
func (c *Console) staffPage(w http.ResponseWriter, r *http.Request, s session) {
	if !s.staff.Role.Allows(auth.Supervisor) {
		c.renderError(w, r, http.StatusForbidden, "This page needs the supervisor role.")
		return
	}
	ms, ps, err := c.directory(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, s, "staff", "Partners and staff", directoryData{Staff: ms, Partners: ps})
}
