package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/inbound-gateway/inbound/internal/adjustment"
	"github.com/inbound-gateway/inbound/internal/audit"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/httpapi"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/webhook"
	"github.com/inbound-gateway/inbound/kyc"
	"github.com/inbound-gateway/inbound/prepaid"
)

// field is an input of an action form.
type field struct {
	Name, Label, Kind string // Kind: text, textarea, select
	Options           []string
	Hint              string
	Optional          bool
}

var reasonField = field{Name: "reason", Label: "Reason (kept in the audit log)", Kind: "textarea"}

// action is a write the console offers: who may do it, what it asks for,
// what it will do (shown before confirming) and how it is done, through
// the domain service the admin API calls.
type action struct {
	Name, Title, Button string
	Role                auth.Role
	Fields              []field
	// preview says what will happen, in lines (money that moves first).
	preview func(ctx context.Context, c *Console, in *input) ([]string, error)
	// do performs the action; it returns where to go next, or a secret to
	// show once.
	do func(ctx context.Context, c *Console, in *input) (result, error)
}

type result struct {
	Redirect string
	Done     string
	Secret   *shownSecret
}

// shownSecret is a key or token shown once, with a copy button.
type shownSecret struct {
	Label, Value, Subject, Note string
}

// input is one submission of an action form.
type input struct {
	Target    string
	Values    map[string]string
	Staff     auth.Staff
	RequestID string
	// confirm is the one-time token of the confirm page, consumed by the
	// write's transaction (see audited).
	confirm *confirmation
}

func (in *input) reason() string { return strings.TrimSpace(in.Values["reason"]) }

var actions = map[string]*action{}

func register(a *action) { actions[a.Name] = a }

type actionData struct {
	A       *action
	Target  string
	Values  map[string]string
	Preview []string
	// Confirm is the one-time token the confirm page submits.
	Confirm string
	Secret  *shownSecret
}

// actionForm shows an action's form for a target.
func (c *Console) actionForm(w http.ResponseWriter, r *http.Request, s session) {
	a, ok := actions[r.PathValue("action")]
	if !ok {
		c.renderError(w, r, http.StatusNotFound, "There is no such action.")
		return
	}
	if !s.staff.Role.Allows(a.Role) {
		c.renderError(w, r, http.StatusForbidden, fmt.Sprintf("This action needs the %s role.", a.Role))
		return
	}
	vals := map[string]string{}
	for _, f := range a.Fields {
		vals[f.Name] = r.URL.Query().Get(f.Name)
	}
	c.render(w, r, http.StatusOK, "action", view{Title: a.Title, Staff: s.staff, CSRF: s.csrf(),
		Data: actionData{A: a, Target: r.URL.Query().Get("target"), Values: vals}})
}

// act handles an action form: the first submission checks the input and
// shows what will happen; the second (confirm=yes) does it. A refusal, by
// the console or by the domain service, shows the form again with the
// input kept and the message beside the field it is about.
func (c *Console) act(w http.ResponseWriter, r *http.Request, s session) {
	a, ok := actions[r.PathValue("action")]
	if !ok {
		c.renderError(w, r, http.StatusNotFound, "There is no such action.")
		return
	}
	if !s.staff.Role.Allows(a.Role) {
		c.log.WarnContext(r.Context(), "console: action refused for role", "staff", s.staff.ID, "action", a.Name)
		c.renderError(w, r, http.StatusForbidden, fmt.Sprintf("This action needs the %s role.", a.Role))
		return
	}
	in := &input{Target: strings.TrimSpace(r.PostFormValue("target")), Values: map[string]string{}, Staff: s.staff,
		RequestID: w.Header().Get("Request-Id")}
	if in.RequestID == "" {
		in.RequestID = ids.New(ids.Request)
	}
	for _, f := range a.Fields {
		in.Values[f.Name] = r.PostFormValue(f.Name)
	}
	d := actionData{A: a, Target: in.Target, Values: in.Values}
	v := view{Title: a.Title, Staff: s.staff, CSRF: s.csrf(), FieldErrors: map[string]string{}, Data: &d}
	showErr := func(err error) {
		status, _, param, msg := httpapi.Describe(err)
		if status >= 500 {
			c.fail(w, r, err)
			return
		}
		if param != "" && hasField(a, param) {
			v.FieldErrors[param] = msg
		} else {
			v.Error = msg
		}
		c.render(w, r, status, "action", v)
	}
	if err := a.check(in); err != nil {
		showErr(err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		lines, err := a.preview(r.Context(), c, in)
		if err != nil {
			showErr(err)
			return
		}
		if d.Confirm, err = c.issueConfirmation(r.Context(), s, a, in); err != nil {
			c.fail(w, r, err)
			return
		}
		d.Preview = lines
		c.render(w, r, http.StatusOK, "confirm", v)
		return
	}
	res, err := c.confirmed(r.Context(), s, a, in, r.PostFormValue("confirmation"))
	if errors.Is(err, errConfirmationUsed) {
		c.log.InfoContext(r.Context(), "console: confirmation reused or expired", "staff", s.staff.ID, "action", a.Name)
		c.renderError(w, r, http.StatusConflict, "This confirmation was already submitted, so the action is already done (once), or it has expired. Check the page before doing it again.")
		return
	}
	if err != nil {
		showErr(err)
		return
	}
	if res.Secret != nil {
		d.Secret = res.Secret
		v.Flash = res.Done
		c.render(w, r, http.StatusOK, "secret", v)
		return
	}
	http.Redirect(w, r, res.Redirect+"?done="+url.QueryEscape(res.Done), http.StatusSeeOther)
}

// confirmed does an action whose confirm page was submitted with token:
// the token must be live and bound to this session, action, target and
// input, and the write's transaction consumes it, so a second submission
// of the same page fails with errConfirmationUsed and does nothing.
func (c *Console) confirmed(ctx context.Context, s session, a *action, in *input, token string) (result, error) {
	if len(token) != 64 {
		return result{}, errConfirmationUsed
	}
	in.confirm = &confirmation{row: bindConfirmation(s, a, in, token)}
	live, err := c.confirmationLive(ctx, in.confirm.row)
	if err != nil {
		return result{}, err
	}
	if !live {
		return result{}, errConfirmationUsed
	}
	if hook := afterConfirmCheck.Load(); hook != nil {
		(*hook)()
	}
	res, err := a.do(ctx, c, in)
	if err != nil || in.confirm.usedIn != nil {
		return res, err
	}
	// Every action's write consumes the token through audited; should one
	// not, the token is still spent here, after the fact.
	c.log.WarnContext(ctx, "console: action did not consume its confirmation in its transaction", "action", a.Name)
	return res, c.api.DB.Transact(ctx, func(tx *db.Tx) error {
		if err := in.confirm.consume(tx, c.now()); err != nil && !errors.Is(err, errConfirmationUsed) {
			return err
		}
		return nil
	})
}

func hasField(a *action, name string) bool {
	for _, f := range a.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// check applies the rules of the admin API's request decoding: required
// fields, lengths and choices, with the same messages and params.
func (a *action) check(in *input) error {
	if in.Target == "" && a.Name != "staff.create" && a.Name != "partner.create" && a.Name != "adjustment.propose" {
		return validation("target", "target is required.")
	}
	for _, f := range a.Fields {
		val := strings.TrimSpace(in.Values[f.Name])
		if val == "" && !f.Optional {
			return validation(f.Name, f.Name+" is required.")
		}
		if f.Kind == "select" && val != "" && !contains(f.Options, val) {
			return validation(f.Name, f.Name+" must be one of: "+strings.Join(f.Options, ", ")+".")
		}
		if len(val) > 1000 {
			return validation(f.Name, f.Name+" must be at most 1000 characters.")
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validation is a refusal in the API's parameter_invalid shape.
func validation(param, msg string) error {
	return httpapi.InvalidParam(param, msg)
}

// audited returns the audit record of an action as work for the end of
// the domain transaction, exactly as the admin API's (same actor, role,
// action names and summaries), so the change and its record commit
// together. It first consumes the input's one-time confirmation in the
// same transaction: a confirmation already used rolls the change back.
func audited[T any](c *Console, in *input, actionName string, describe func(T) (string, audit.Summary)) db.Then[T] {
	return func(tx *db.Tx, result T) error {
		if in.confirm != nil {
			if err := in.confirm.consume(tx, c.now()); err != nil {
				return err
			}
		}
		target, after := describe(result)
		_, err := audit.Record(tx, audit.Entry{
			ActorID: in.Staff.ID, ActorRole: in.Staff.Role.String(), Action: actionName, Target: target,
			Reason: in.reason(), RequestID: in.RequestID, After: audit.State(after), CreatedAt: c.now(),
		})
		return err
	}
}

func visitorURL(id string) string { return "/console/visitors/" + url.PathEscape(id) }

func init() {
	register(&action{Name: "review.decide", Title: "Decide a review", Button: "Decide", Role: auth.Agent,
		Fields: []field{{Name: "decision", Label: "Decision", Kind: "select", Options: []string{"approve", "reject"}}, reasonField},
		preview: func(ctx context.Context, c *Console, in *input) ([]string, error) {
			rv, err := c.api.KYC.Review(ctx, in.Target)
			if err != nil {
				return nil, withParam(err, "target")
			}
			if in.Values["decision"] == "approve" {
				return []string{"Review " + rv.ID + " is approved.", "Visitor " + rv.VisitorID + " becomes approved and gets a prepaid account (an account frozen by re-screening stays frozen).", "The partner is told by webhook."}, nil
			}
			return []string{"Review " + rv.ID + " is rejected.", "Visitor " + rv.VisitorID + " becomes rejected.", "The partner is told by webhook."}, nil
		},
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			decision := in.Values["decision"]
			reviewID := in.Target
			then := audited(c, in, "review."+decision, func(ch kyc.Change) (string, audit.Summary) {
				return reviewID, audit.Summary{Object: "review", ID: reviewID, Status: decision + "d",
					Changed: []string{"status", "decided_by", "decision_reason"}, VisitorID: ch.Visitor.ID}
			})
			_, v, err := c.api.KYC.Decide(ctx, reviewID, kyc.Decision{Verdict: kyc.Verdict(decision), Reason: in.reason(), StaffID: in.Staff.ID}, then)
			if err != nil {
				return result{}, err
			}
			return result{Redirect: visitorURL(v.ID), Done: "Review " + reviewID + " " + decision + "d."}, nil
		}})

	for _, frozen := range []bool{true, false} {
		name, verb, what := "account.unfreeze", "Unfreeze", "Loads, payments and unloads work again."
		if frozen {
			name, verb, what = "account.freeze", "Freeze", "Every outflow stops: loads, payments, confirms and unloads; automatic escrow release waits. Disputes can still be resolved."
		}
		register(&action{Name: name, Title: verb + " an account", Button: verb, Role: auth.Agent, Fields: []field{reasonField},
			preview: func(ctx context.Context, c *Console, in *input) ([]string, error) {
				a, err := c.api.Accounts.ByVisitor(ctx, "", in.Target)
				if err != nil {
					return nil, withParam(err, "target")
				}
				return []string{verb + " account " + a.ID + " of visitor " + in.Target + " (now " + string(a.Status) + ").", what, "The partner gets an " + name + "d webhook."}, nil
			},
			do: func(ctx context.Context, c *Console, in *input) (result, error) {
				visitorID := in.Target
				then := audited(c, in, name, func(a prepaid.Account) (string, audit.Summary) {
					return visitorID, audit.Summary{Object: "account", ID: a.ID, Status: string(a.Status), Changed: []string{"status"}, VisitorID: a.VisitorID}
				})
				a, err := c.api.Accounts.SetFrozen(ctx, visitorID, frozen, c.api.Webhooks, then)
				if err != nil {
					return result{}, err
				}
				return result{Redirect: visitorURL(visitorID), Done: "Account " + a.ID + " is " + string(a.Status) + "."}, nil
			}})
	}

	register(&action{Name: "visitor.release_document", Title: "Release a passport claim", Button: "Release", Role: auth.Agent, Fields: []field{reasonField},
		preview: func(ctx context.Context, c *Console, in *input) ([]string, error) {
			v, err := c.api.KYC.GetAny(ctx, in.Target)
			if err != nil {
				return nil, withParam(err, "target")
			}
			return []string{"Visitor " + v.ID + " stops holding passport " + v.Document.NumberMasked + " (" + v.Document.IssuingState + ").",
				"Another visitor with the same passport can then be approved. This visitor keeps its status and account."}, nil
		},
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			then := audited(c, in, "visitor.release_document", func(v kyc.Visitor) (string, audit.Summary) {
				return v.ID, audit.Summary{Object: "visitor", ID: v.ID, Status: string(v.Status), Changed: []string{"document_released_at"}}
			})
			v, err := c.api.KYC.ReleaseDocument(ctx, in.Target, in.Staff.ID, in.reason(), then)
			if err != nil {
				return result{}, err
			}
			return result{Redirect: visitorURL(v.ID), Done: "The passport claim of " + v.ID + " is released."}, nil
		}})

	register(&action{Name: "webhook.redeliver", Title: "Retry a failed webhook delivery", Button: "Retry", Role: auth.Supervisor, Fields: []field{reasonField},
		preview: func(ctx context.Context, c *Console, in *input) ([]string, error) {
			d, err := c.delivery(ctx, in.Target)
			if err != nil {
				return nil, err
			}
			if d.Status != "failed" {
				return nil, withParam(webhook.ErrDeliveryNotFailed, "target")
			}
			return []string{"Delivery " + in.Target + " of event " + d.EventID + " to endpoint " + d.EndpointID + " is queued again, due now.",
				"It gets the whole retry schedule again; its " + strconv.Itoa(d.Attempts) + " earlier attempts stay on record."}, nil
		},
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			if _, err := c.delivery(ctx, in.Target); err != nil {
				return result{}, err
			}
			id, _ := strconv.ParseInt(in.Target, 10, 64)
			then := audited(c, in, "webhook.redeliver", func(d webhook.Delivery) (string, audit.Summary) {
				return in.Target, audit.Summary{Object: "webhook_delivery", ID: in.Target, Status: d.Status, Changed: []string{"status", "attempts", "next_attempt_at"}}
			})
			d, err := c.api.Webhooks.Redeliver(ctx, id, then)
			if err != nil {
				return result{}, withParam(err, "target")
			}
			return result{Redirect: "/console/webhooks/" + url.PathEscape(d.EndpointID), Done: "Delivery " + in.Target + " is queued again."}, nil
		}})

	registerMoneyActions()
	registerAccessActions()
}

// delivery reads the webhook delivery a target names.
func (c *Console) delivery(ctx context.Context, target string) (webhook.Delivery, error) {
	id, err := strconv.ParseInt(target, 10, 64)
	if err != nil || id <= 0 {
		return webhook.Delivery{}, validation("target", "target must be a delivery id.")
	}
	d, err := c.api.Webhooks.Delivery(ctx, id)
	if err != nil {
		return webhook.Delivery{}, withParam(err, "target")
	}
	return d, nil
}

// ledgerLine is one side of a transfer that will post.
type ledgerLine struct {
	Account string
	Amount  money.Amount
	Effect  string
}

// adjustmentLines are the two ledger lines an adjustment posts: the
// account on its normal side, the adjustments account of the currency on
// the other.
func adjustmentLines(code string, amount money.Amount) []ledgerLine {
	effect, other := "raises the balance", "the other side"
	if amount.IsNegative() {
		effect = "lowers the balance"
	}
	return []ledgerLine{
		{Account: code, Amount: amount, Effect: effect},
		{Account: adjustment.CounterCode(amount.Currency()), Amount: amount.Neg(), Effect: other},
	}
}

func describeLines(lines []ledgerLine) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "Ledger line: " + l.Account + " " + formatAmount(l.Amount) + " (" + l.Effect + ")."
	}
	return out
}

func (c *Console) ledgerAccount(ctx context.Context, idOrCode string) (ledger.Account, error) {
	if strings.Contains(idOrCode, ":") {
		return c.api.Ledger.AccountByCode(ctx, idOrCode)
	}
	return c.api.Ledger.Account(ctx, idOrCode)
}

func parseAmount(value string) (money.Amount, error) {
	a, err := money.Parse(strings.TrimSpace(value), "CNY")
	if err != nil {
		return money.Amount{}, validation("amount", "amount must be a decimal CNY amount with at most two decimals, such as -12.50.")
	}
	return a, nil
}

func registerMoneyActions() {
	register(&action{Name: "adjustment.propose", Title: "Propose an adjustment", Button: "Propose", Role: auth.Agent,
		Fields: []field{
			{Name: "account_id", Label: "Ledger account (id or code)", Kind: "text", Hint: "A visitor's prepaid balance is visitor:{visitor id}:prepaid."},
			{Name: "amount", Label: "Amount in CNY (negative debits)", Kind: "text", Hint: "For example -12.50"},
			reasonField},
		preview: func(ctx context.Context, c *Console, in *input) ([]string, error) {
			acct, err := c.ledgerAccount(ctx, strings.TrimSpace(in.Values["account_id"]))
			if err != nil {
				return nil, withParam(err, "account_id")
			}
			amount, err := parseAmount(in.Values["amount"])
			if err != nil {
				return nil, err
			}
			lines := []string{"Nothing moves now: a different supervisor must approve. When approved, these lines post:"}
			return append(lines, describeLines(adjustmentLines(acct.Code, amount))...), nil
		},
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			acct, err := c.ledgerAccount(ctx, strings.TrimSpace(in.Values["account_id"]))
			if err != nil {
				return result{}, withParam(err, "account_id")
			}
			amount, err := parseAmount(in.Values["amount"])
			if err != nil {
				return result{}, err
			}
			then := audited(c, in, "adjustment.propose", describeAdjustment("account_id", "amount", "status"))
			a, err := c.api.Adjustments.Propose(ctx, acct.ID, amount, in.reason(), in.Staff.ID, then)
			if errors.Is(err, adjustment.ErrAboveCeiling) || errors.Is(err, adjustment.ErrZeroAmount) {
				err = withParam(err, "amount")
			}
			if errors.Is(err, adjustment.ErrAccountClosed) {
				err = withParam(err, "account_id")
			}
			if err != nil {
				return result{}, err
			}
			return result{Redirect: "/console/adjustments/" + url.PathEscape(a.ID), Done: "Adjustment " + a.ID + " proposed: it waits for a second supervisor."}, nil
		}})

	register(&action{Name: "adjustment.approve", Title: "Approve an adjustment", Button: "Approve", Role: auth.Supervisor, Fields: []field{reasonField},
		preview: func(ctx context.Context, c *Console, in *input) ([]string, error) {
			a, err := c.api.Adjustments.Get(ctx, in.Target)
			if err != nil {
				return nil, withParam(err, "target")
			}
			lines := []string{"Adjustment " + a.ID + " proposed by " + a.ProposedBy + " posts now:"}
			return append(lines, describeLines(adjustmentLines(a.AccountCode, a.Amount))...), nil
		},
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			then := audited(c, in, "adjustment.approve", describeAdjustment("status", "approved_by"))
			a, err := c.api.Adjustments.Approve(ctx, in.Target, in.Staff, then)
			if err != nil {
				return result{}, err
			}
			return result{Redirect: "/console/adjustments/" + url.PathEscape(a.ID), Done: "Adjustment " + a.ID + " approved and posted."}, nil
		}})

	register(&action{Name: "adjustment.reject", Title: "Reject an adjustment", Button: "Reject", Role: auth.Supervisor, Fields: []field{reasonField},
		preview: func(ctx context.Context, c *Console, in *input) ([]string, error) {
			a, err := c.api.Adjustments.Get(ctx, in.Target)
			if err != nil {
				return nil, withParam(err, "target")
			}
			if a.Status != adjustment.Proposed {
				return nil, withParam(adjustment.ErrNotProposed, "target")
			}
			return []string{"Adjustment " + a.ID + " of " + formatAmount(a.Amount) + " on " + a.AccountCode + ", proposed by " + a.ProposedBy + ", is rejected.",
				"Nothing is posted to the ledger, and it can no longer be approved."}, nil
		},
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			then := audited(c, in, "adjustment.reject", describeAdjustment("status", "rejected_by", "reject_reason"))
			a, err := c.api.Adjustments.Reject(ctx, in.Target, in.Staff, in.reason(), then)
			if err != nil {
				return result{}, err
			}
			return result{Redirect: "/console/adjustments/" + url.PathEscape(a.ID), Done: "Adjustment " + a.ID + " rejected: nothing was posted."}, nil
		}})

	register(&action{Name: "payment.resolve", Title: "Resolve a dispute", Button: "Resolve", Role: auth.Agent,
		Fields: []field{
			{Name: "outcome", Label: "Outcome", Kind: "select", Options: []string{"release", "refund"}},
			{Name: "amount", Label: "Amount of that outcome in CNY (empty: all in escrow; the rest goes the other way)", Kind: "text", Optional: true},
			reasonField},
		preview: func(ctx context.Context, c *Console, in *input) ([]string, error) {
			p, err := c.api.Escrow.Get(ctx, "", in.Target)
			if err != nil {
				return nil, withParam(err, "target")
			}
			if p.Status != escrow.Disputed {
				return nil, withParam(fmt.Errorf("%w: payment %s is %s, not disputed", escrow.ErrInvalidState, p.ID, p.Status), "target")
			}
			part := p.Held
			if strings.TrimSpace(in.Values["amount"]) != "" {
				if part, err = parseAmount(in.Values["amount"]); err != nil {
					return nil, err
				}
				if !part.IsPositive() || part.Minor() > p.Held.Minor() {
					return nil, validation("amount", "amount must be more than 0 and at most the "+formatAmount(p.Held)+" in escrow.")
				}
			}
			rest := money.New(p.Held.Minor()-part.Minor(), p.Held.Currency())
			refund, release := part, rest
			if in.Values["outcome"] == "release" {
				refund, release = rest, part
			}
			lines := []string{"In escrow now: " + formatAmount(p.Held) + "."}
			if refund.IsPositive() {
				line := "Back to visitor " + p.VisitorID + ": " + formatAmount(refund) + "."
				if view, err := c.api.Prepaid.View(ctx, p.PartnerID, p.VisitorID); err == nil {
					after, _ := view.Available.Add(refund)
					line += " Available balance " + formatAmount(view.Available) + " → " + formatAmount(after) + "."
				}
				lines = append(lines, line)
			}
			if release.IsPositive() {
				lines = append(lines, "To merchant "+p.MerchantID+": "+formatAmount(release)+" (the merchant fee is taken from it).")
			}
			return lines, nil
		},
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			outcome, err := escrow.ParseOutcome(in.Values["outcome"])
			if err != nil {
				return result{}, withParam(err, "outcome")
			}
			var amount *money.Amount
			if strings.TrimSpace(in.Values["amount"]) != "" {
				a, err := parseAmount(in.Values["amount"])
				if err != nil {
					return result{}, err
				}
				amount = &a
			}
			id := in.Target
			then := audited(c, in, "payment.resolve."+string(outcome), func(pay escrow.Payment) (string, audit.Summary) {
				return id, audit.Summary{Object: "payment", ID: id, Status: string(pay.Status),
					Changed: []string{"status", resolvedField(string(outcome))}}
			})
			p, err := c.api.Escrow.Resolve(ctx, id, outcome, amount, in.Staff.ID, in.reason(), then)
			if err != nil {
				return result{}, withAmountParam(err)
			}
			return result{Redirect: "/console/payments/" + url.PathEscape(p.ID), Done: "Dispute on " + p.ID + " resolved: " + string(p.Status) + "."}, nil
		}})
}

func withAmountParam(err error) error {
	var pe interface{ ParamName() string }
	if errors.As(err, &pe) && strings.HasPrefix(pe.ParamName(), "amount") {
		return withParam(err, "amount")
	}
	return err
}

func resolvedField(outcome string) string {
	if outcome == "refund" {
		return "refunded"
	}
	return "released"
}

func describeAdjustment(changed ...string) func(adjustment.Adjustment) (string, audit.Summary) {
	return func(a adjustment.Adjustment) (string, audit.Summary) {
		return a.ID, audit.Summary{Object: "adjustment", ID: a.ID, Status: string(a.Status), Changed: changed,
			AccountID: a.AccountID, ProposedBy: a.ProposedBy, ApprovedBy: a.ApprovedBy}
	}
}
