package kyc_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/kyc"
)

type fixture struct {
	svc      *kyc.Service
	vault    *vault.Vault
	b        testenv.Backend
	mu       sync.Mutex
	approved []string
	changes  []kyc.Change
}

func newFixture(t *testing.T, b testenv.Backend) *fixture {
	t.Helper()
	key, _ := vault.ParseKey(vault.GenerateKey())
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{vault: v, b: b}
	for _, p := range []string{"ptn_a", "ptn_b"} {
		if err := b.DB.Gorm.Exec(`INSERT INTO partners (id, name, status, created_at) VALUES (?, ?, 'active', ?)`,
			p, p, time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
	}
	store := kyc.NewStore(b.DB, kyc.Hooks{
		Approved: func(ctx context.Context, tx *gorm.DB, v kyc.Visitor) error {
			// Proves the hook runs inside the transaction: it sees the row.
			var n int64
			if err := tx.Table("visitors").Where("id = ? AND status = 'approved'", v.ID).Count(&n).Error; err != nil || n != 1 {
				return errors.New("approved visitor not visible in the hook's transaction")
			}
			f.mu.Lock()
			f.approved = append(f.approved, v.ID)
			f.mu.Unlock()
			return nil
		},
		Changed: func(ctx context.Context, tx *gorm.DB, c kyc.Change) error {
			f.mu.Lock()
			f.changes = append(f.changes, c)
			f.mu.Unlock()
			return nil
		},
	})
	f.svc = kyc.NewService(store, kyc.BuiltinSanctions(), v, kyc.Options{Now: func() time.Time { return today }})
	return f
}

func (f *fixture) register(t *testing.T, partner string, mrz []string) (kyc.Visitor, error) {
	t.Helper()
	return f.svc.Register(context.Background(), partner, kyc.Application{MRZ: mrz, Phone: "+4915112345678", Email: "anna@example.com"})
}

var ignoreTimes = cmpopts.IgnoreFields(kyc.Visitor{}, "CreatedAt", "UpdatedAt")

func TestRegisterOutcomesAndStorage(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		entry, err := kyc.NewEntry("L", "2026-11-20", "2026-12-10")
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.svc.Register(ctx, "ptn_a", kyc.Application{
			MRZ:   passport("UTO", "L898902C3", "ERIKSSON", "ANNA MARIA", "740812"),
			Phone: " +4915112345678 ", Email: "anna@example.com", Entry: entry,
		})
		if err != nil {
			t.Fatal(err)
		}
		want := kyc.Visitor{
			ID: v.ID, PartnerID: "ptn_a", Status: kyc.StatusApproved, Tier: kyc.TierBasic,
			Surname: "ERIKSSON", GivenNames: "ANNA MARIA", Nationality: "UTO", Sex: kyc.SexFemale,
			DateOfBirth: date(t, "1974-08-12"),
			Document: kyc.Document{Type: "P", Format: kyc.TD3, IssuingState: "UTO", NumberMasked: "L8*****C3",
				ExpiresOn: date(t, "2034-01-01")},
			Phone: "+4915112345678", Email: "anna@example.com", Entry: entry,
		}
		if diff := cmp.Diff(want, v, ignoreTimes); diff != "" {
			t.Fatalf("register (-want +got):\n%s", diff)
		}
		got, err := f.svc.Get(ctx, "ptn_a", v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, ignoreTimes); diff != "" {
			t.Fatalf("get (-want +got):\n%s", diff)
		}
		if !got.CreatedAt.Equal(today) {
			t.Fatalf("created_at %v", got.CreatedAt)
		}
		if _, err := f.svc.Get(ctx, "ptn_b", v.ID); !errors.Is(err, kyc.ErrNotFound) {
			t.Fatalf("another partner's visitor: %v", err)
		}
		if _, err := f.svc.Get(ctx, "ptn_a", "vis_missing"); !errors.Is(err, kyc.ErrNotFound) {
			t.Fatalf("missing visitor: %v", err)
		}
		if len(f.approved) != 1 || f.approved[0] != v.ID {
			t.Fatalf("approved hook calls %v", f.approved)
		}

		// The number is sealed, never plain; the raw MRZ is nowhere.
		var row struct{ NumberSealed, NumberIndex string }
		if err := b.DB.Gorm.Raw(`SELECT number_sealed, number_index FROM visitors WHERE id = ?`, v.ID).Scan(&row).Error; err != nil {
			t.Fatal(err)
		}
		if strings.Contains(row.NumberSealed, "L898902C3") {
			t.Fatal("number stored in plain text")
		}
		plain, err := f.vault.Open("passport", row.NumberSealed)
		if err != nil || string(plain) != "L898902C3" {
			t.Fatalf("sealed number opens to %q, %v", plain, err)
		}
		if row.NumberIndex != f.svc.DocumentIndex("UTO", "L898902C3") {
			t.Fatal("index mismatch")
		}

		// Staff look-up through the keyed index, with sloppy input.
		found, err := f.svc.FindByPassport(ctx, "uto", "l898 902c3")
		if err != nil || len(found) != 1 || found[0].ID != v.ID {
			t.Fatalf("find: %v %v", found, err)
		}

		scr, err := f.svc.Screenings(ctx, v.ID)
		if err != nil || len(scr) != 1 || scr[0].ListVersion != kyc.BuiltinSanctions().Version() || scr[0].Outcome != kyc.ScreeningClear {
			t.Fatalf("screenings %+v %v", scr, err)
		}
		hist, err := f.svc.History(ctx, v.ID)
		if err != nil || len(hist) != 1 || hist[0].Status != kyc.StatusApproved || hist[0].Actor != kyc.ActorSystem {
			t.Fatalf("history %+v %v", hist, err)
		}
	})
}

func TestRegisterEveryOutcome(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		f := newFixture(t, b)
		specs := readSpecimens(t)
		tests := []struct {
			name    string
			mrz     []string
			status  kyc.Status
			reasons []kyc.Reason
		}{
			{"expired ICAO specimen", specs[0].lines, kyc.StatusRejected, []kyc.Reason{kyc.ReasonDocumentExpired}},
			{"underage", passport("GBR", "123456789", "YOUNG", "TIM", "100101"), kyc.StatusRejected, []kyc.Reason{kyc.ReasonUnderage}},
			{"sanctioned", passport("UTO", "S1", "DRAKOVIC", "MIRKO", "700303"), kyc.StatusRejected, []kyc.Reason{kyc.ReasonSanctionsMatch}},
			{"possible sanctions match", passport("UTO", "S2", "DRAKOVIC", "MIRKO", "710303"), kyc.StatusReview, []kyc.Reason{kyc.ReasonSanctionsPossibleMatch}},
			{"stateless", passport("XXA", "S3", "NOBODY", "JO", "800101"), kyc.StatusReview, []kyc.Reason{kyc.ReasonStatelessOrRefugee}},
			{"no given names", passport("IDN", "S4", "SUKARNO", "", "800101"), kyc.StatusReview, []kyc.Reason{kyc.ReasonNameAmbiguous}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				v, err := f.register(t, "ptn_a", tt.mrz)
				if err != nil {
					t.Fatal(err)
				}
				if v.Status != tt.status || !cmp.Equal(v.Reasons, tt.reasons) {
					t.Fatalf("got %s %v, want %s %v", v.Status, v.Reasons, tt.status, tt.reasons)
				}
				page, err := f.svc.Reviews(context.Background(), kyc.ReviewQuery{Status: kyc.ReviewOpen, Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				open := false
				for _, r := range page.Reviews {
					open = open || r.VisitorID == v.ID
				}
				if open != (tt.status == kyc.StatusReview) {
					t.Fatalf("open review for %s: %v", tt.status, open)
				}
			})
		}
		_, err := f.register(t, "ptn_a", []string{"P<UTO", "garbage"})
		var fe *kyc.FieldError
		if !errors.Is(err, kyc.ErrMRZInvalid) || !errors.As(err, &fe) || fe.Param != "mrz" {
			t.Fatalf("invalid MRZ: %v", err)
		}
	})
}

func TestDuplicateDocumentAcrossPartners(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		f := newFixture(t, b)
		mrz := passport("D", "C01X00T47", "MUSTERMANN", "ERIKA", "640812")
		first, err := f.register(t, "ptn_a", mrz)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.register(t, "ptn_a", mrz); !errors.Is(err, kyc.ErrDuplicateDocument) {
			t.Fatalf("same partner: %v", err)
		}
		// Staff typing DEU find the German passport.
		found, err := f.svc.FindByPassport(context.Background(), "DEU", "C01X00T47")
		if err != nil || len(found) != 1 || found[0].ID != first.ID {
			t.Fatalf("find: %v %v", found, err)
		}
		// A rejected visitor does not hold the document: the expired ICAO
		// specimen can be submitted again, and is rejected again.
		expired := readSpecimens(t)[0].lines
		for range 2 {
			v, err := f.register(t, "ptn_b", expired)
			if err != nil || v.Status != kyc.StatusRejected {
				t.Fatalf("%v %v", v, err)
			}
		}
	})
}

func TestReviewDecisions(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		stateless := passport("XXA", "R1", "NOBODY", "JO", "800101")
		v1, err := f.register(t, "ptn_a", stateless)
		if err != nil || v1.Status != kyc.StatusReview {
			t.Fatalf("%v %v", v1, err)
		}
		v2, err := f.register(t, "ptn_b", passport("UTO", "R2", "DRAKOVIC", "MIRKO", "710303"))
		if err != nil || v2.Status != kyc.StatusReview {
			t.Fatalf("%v %v", v2, err)
		}

		page, err := f.svc.Reviews(ctx, kyc.ReviewQuery{Status: kyc.ReviewOpen, Limit: 1})
		if err != nil || len(page.Reviews) != 1 || !page.HasMore || page.Reviews[0].VisitorID != v1.ID {
			t.Fatalf("page 1 %+v %v", page, err)
		}
		page2, err := f.svc.Reviews(ctx, kyc.ReviewQuery{Status: kyc.ReviewOpen, Limit: 1, Cursor: page.NextCursor})
		if err != nil || len(page2.Reviews) != 1 || page2.HasMore || page2.Reviews[0].VisitorID != v2.ID {
			t.Fatalf("page 2 %+v %v", page2, err)
		}
		r1, r2 := page.Reviews[0], page2.Reviews[0]
		if !cmp.Equal(r1.Reasons, []kyc.Reason{kyc.ReasonStatelessOrRefugee}) || r1.PartnerID != "ptn_a" {
			t.Fatalf("review %+v", r1)
		}

		for _, bad := range []kyc.Decision{
			{Verdict: "maybe", Reason: "x", StaffID: "stf_1"},
			{Verdict: kyc.Approve, Reason: " ", StaffID: "stf_1"},
			{Verdict: kyc.Approve, Reason: "x"},
		} {
			if _, _, err := f.svc.Decide(ctx, r1.ID, bad); !errors.Is(err, kyc.ErrInvalidDecision) {
				t.Fatalf("%+v: %v", bad, err)
			}
		}
		if _, _, err := f.svc.Decide(ctx, "rev_missing", kyc.Decision{Verdict: kyc.Approve, Reason: "x", StaffID: "stf_1"}); !errors.Is(err, kyc.ErrNotFound) {
			t.Fatalf("missing review: %v", err)
		}

		before := len(f.approved)
		rev, vis, err := f.svc.Decide(ctx, r1.ID, kyc.Decision{Verdict: kyc.Approve, Reason: "UNHCR travel document checked", StaffID: "stf_1"})
		if err != nil {
			t.Fatal(err)
		}
		if rev.Status != kyc.ReviewApproved || rev.DecidedBy != "stf_1" || vis.Status != kyc.StatusApproved || len(vis.Reasons) != 0 {
			t.Fatalf("after approval %+v %+v", rev, vis)
		}
		if len(f.approved) != before+1 || f.approved[len(f.approved)-1] != v1.ID {
			t.Fatalf("approved hook: %v", f.approved)
		}
		stored, _ := f.svc.Get(ctx, "ptn_a", v1.ID)
		if stored.Status != kyc.StatusApproved {
			t.Fatalf("stored status %s", stored.Status)
		}
		hist, _ := f.svc.History(ctx, v1.ID)
		wantHist := []kyc.HistoryEntry{
			{Status: kyc.StatusReview, Reasons: []kyc.Reason{kyc.ReasonStatelessOrRefugee}, Actor: kyc.ActorSystem, Note: "created"},
			{Status: kyc.StatusApproved, Actor: "stf_1", Note: "UNHCR travel document checked"},
		}
		if diff := cmp.Diff(wantHist, hist, cmpopts.IgnoreFields(kyc.HistoryEntry{}, "At")); diff != "" {
			t.Fatalf("history (-want +got):\n%s", diff)
		}
		if _, _, err := f.svc.Decide(ctx, r1.ID, kyc.Decision{Verdict: kyc.Reject, Reason: "again", StaffID: "stf_2"}); !errors.Is(err, kyc.ErrReviewClosed) {
			t.Fatalf("second decision: %v", err)
		}

		// An application that goes to review anyway is not checked for
		// duplicates (the check would tell one partner about another's
		// visitor): it is simply another visitor in review, which staff
		// cannot approve while v1 holds the passport.
		dupReview, err := f.register(t, "ptn_b", stateless)
		if err != nil || dupReview.Status != kyc.StatusReview {
			t.Fatalf("document in review: %v %v", dupReview, err)
		}
		dupPage, _ := f.svc.Reviews(ctx, kyc.ReviewQuery{Status: kyc.ReviewOpen})
		dupRev := dupPage.Reviews[len(dupPage.Reviews)-1]
		if dupRev.VisitorID != dupReview.ID {
			t.Fatalf("queue %+v", dupPage.Reviews)
		}
		if _, _, err := f.svc.Decide(ctx, dupRev.ID, kyc.Decision{Verdict: kyc.Approve, Reason: "x", StaffID: "stf_2"}); !errors.Is(err, kyc.ErrDuplicateDocument) {
			t.Fatalf("approving a second holder: %v", err)
		}
		if _, _, err := f.svc.Decide(ctx, dupRev.ID, kyc.Decision{Verdict: kyc.Reject, Reason: "duplicate", StaffID: "stf_2"}); err != nil {
			t.Fatal(err)
		}

		// Rejecting frees the document for a new application.
		_, vis, err = f.svc.Decide(ctx, r2.ID, kyc.Decision{Verdict: kyc.Reject, Reason: "confirmed hit", StaffID: "stf_2"})
		if err != nil {
			t.Fatal(err)
		}
		if vis.Status != kyc.StatusRejected || !cmp.Equal(vis.Reasons, []kyc.Reason{kyc.ReasonSanctionsPossibleMatch, kyc.ReasonManualRejection}) {
			t.Fatalf("after rejection %+v", vis)
		}
		again, err := f.register(t, "ptn_a", passport("UTO", "R2", "DRAKOVIC", "MIRKO", "710303"))
		if err != nil || again.Status != kyc.StatusReview {
			t.Fatalf("new application after rejection: %v %v", again, err)
		}
		found, _ := f.svc.FindByPassport(ctx, "UTO", "R2")
		if len(found) != 2 {
			t.Fatalf("staff see %d visitors for the document", len(found))
		}
		open, _ := f.svc.Reviews(ctx, kyc.ReviewQuery{Status: kyc.ReviewOpen})
		if len(open.Reviews) != 1 || open.Reviews[0].VisitorID != again.ID {
			t.Fatalf("open reviews %+v", open.Reviews)
		}

		// Every status change reached the Changed hook, with its actor.
		last := f.changes[len(f.changes)-2]
		if last.Actor != "stf_2" || last.From != kyc.StatusReview || last.Visitor.Status != kyc.StatusRejected || last.ReviewID != r2.ID {
			t.Fatalf("change %+v", last)
		}

		// The history is append-only in the database itself.
		if err := b.DB.Gorm.Exec(`UPDATE visitor_history SET note = 'x'`).Error; err == nil {
			t.Fatal("visitor_history update succeeded")
		}
		if err := b.DB.Gorm.Exec(`DELETE FROM visitor_history`).Error; err == nil {
			t.Fatal("visitor_history delete succeeded")
		}
	})
}

func TestConcurrentDecisionsDecideOnce(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		if _, err := f.register(t, "ptn_a", passport("XXB", "C1", "NOBODY", "JO", "800101")); err != nil {
			t.Fatal(err)
		}
		page, _ := f.svc.Reviews(ctx, kyc.ReviewQuery{Status: kyc.ReviewOpen})
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, _, errs[i] = f.svc.Decide(ctx, page.Reviews[0].ID, kyc.Decision{Verdict: kyc.Approve, Reason: "ok", StaffID: "stf_1"})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, kyc.ErrReviewClosed) {
				t.Fatal(err)
			}
		}
		if ok != 1 || len(f.approved) != 1 {
			t.Fatalf("%d decisions succeeded, %d approvals", ok, len(f.approved))
		}
	})
}
