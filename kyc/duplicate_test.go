package kyc_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/kyc"
)

// withExpiry is passport with another expiry (YYMMDD).
func withExpiry(state, number, surname, given, birth, expiry string) []string {
	return build(doc{
		format: kyc.TD3, code: "P", state: state, surname: strings.Fields(surname),
		given: strings.Fields(given), number: number, nationality: state,
		birth: birth, sex: 'M', expiry: expiry,
	})
}

// TestDuplicateCheckOnlyForApprovableApplications: an application that is
// rejected or goes to review anyway is stored without looking for the
// document, so its outcome says nothing about other partners' visitors.
func TestDuplicateCheckOnlyForApprovableApplications(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		f := newFixture(t, b)
		held := passport("D", "C01X00T47", "MUSTERMANN", "ERIKA", "640812")
		if v, err := f.register(t, "ptn_a", held); err != nil || v.Status != kyc.StatusApproved {
			t.Fatalf("%v %v", v, err)
		}
		// The same number on a fabricated, expired MRZ: rejected exactly
		// like a number nobody holds.
		for _, p := range []string{"ptn_a", "ptn_b"} {
			for _, number := range []string{"C01X00T47", "Z99Z99Z99"} {
				v, err := f.register(t, p, withExpiry("D", number, "FAKE", "NAME", "800101", "200101"))
				if err != nil || v.Status != kyc.StatusRejected || !cmp.Equal(v.Reasons, []kyc.Reason{kyc.ReasonDocumentExpired}) {
					t.Fatalf("%s %s: %+v %v", p, number, v, err)
				}
			}
		}
		// An application that goes to review for its own reasons (no given
		// names) is not checked either.
		for _, number := range []string{"C01X00T47", "Z99Z99Z98"} {
			v, err := f.register(t, "ptn_b", withExpiry("D", number, "FAKE", "", "800101", "340101"))
			if err != nil || v.Status != kyc.StatusReview || !cmp.Equal(v.Reasons, []kyc.Reason{kyc.ReasonNameAmbiguous}) {
				t.Fatalf("%s: %+v %v", number, v, err)
			}
		}
	})
}

// TestDuplicateAcrossPartnersGoesToReview: the same partner is told (it
// knows its own visitors); another partner gets a visitor in review with
// reason duplicate_document and the queue gets the review.
func TestDuplicateAcrossPartnersGoesToReview(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		mrz := passport("FRA", "DUP123456", "DUPONT", "MARIE", "850101")
		first, err := f.register(t, "ptn_a", mrz)
		if err != nil || first.Status != kyc.StatusApproved {
			t.Fatalf("%v %v", first, err)
		}
		if _, err := f.register(t, "ptn_a", mrz); !errors.Is(err, kyc.ErrDuplicateDocument) {
			t.Fatalf("same partner: %v", err)
		}
		approvedBefore := len(f.approved)
		dup, err := f.register(t, "ptn_b", mrz)
		if err != nil {
			t.Fatalf("other partner: %v", err)
		}
		if dup.Status != kyc.StatusReview || !cmp.Equal(dup.Reasons, []kyc.Reason{kyc.ReasonDuplicateDocument}) || dup.PartnerID != "ptn_b" {
			t.Fatalf("other partner's visitor %+v", dup)
		}
		if len(f.approved) != approvedBefore {
			t.Fatal("the duplicate was approved")
		}
		open, err := f.svc.Reviews(ctx, kyc.ReviewQuery{Status: kyc.ReviewOpen})
		if err != nil || len(open.Reviews) != 1 || open.Reviews[0].VisitorID != dup.ID ||
			!cmp.Equal(open.Reviews[0].Reasons, []kyc.Reason{kyc.ReasonDuplicateDocument}) {
			t.Fatalf("queue %+v %v", open, err)
		}
		// A duplicate under B is also B's own now: B's second try is a 409.
		if _, err := f.register(t, "ptn_b", mrz); !errors.Is(err, kyc.ErrDuplicateDocument) {
			t.Fatalf("B again: %v", err)
		}

		// Staff cannot approve it while A's visitor holds the passport.
		if _, _, err := f.svc.Decide(ctx, open.Reviews[0].ID, kyc.Decision{Verdict: kyc.Approve, Reason: "same person", StaffID: "stf_1"}); !errors.Is(err, kyc.ErrDuplicateDocument) {
			t.Fatalf("approve while held: %v", err)
		}
		// Releasing A's claim lets it through.
		if _, err := f.svc.ReleaseDocument(ctx, first.ID, "stf_1", " "); !errors.Is(err, kyc.ErrInvalidRelease) {
			t.Fatalf("release without reason: %v", err)
		}
		if _, err := f.svc.ReleaseDocument(ctx, "vis_missing", "stf_1", "x"); !errors.Is(err, kyc.ErrNotFound) {
			t.Fatalf("release unknown: %v", err)
		}
		rel, err := f.svc.ReleaseDocument(ctx, first.ID, "stf_1", "passport reissued to the holder, ticket 42")
		if err != nil || rel.DocumentReleasedAt.IsZero() || rel.Status != kyc.StatusApproved {
			t.Fatalf("release %+v %v", rel, err)
		}
		if _, err := f.svc.ReleaseDocument(ctx, first.ID, "stf_1", "again"); !errors.Is(err, kyc.ErrDocumentNotHeld) {
			t.Fatalf("second release: %v", err)
		}
		hist, _ := f.svc.History(ctx, first.ID)
		want := []kyc.HistoryEntry{
			{Status: kyc.StatusApproved, Actor: kyc.ActorSystem, Note: "created"},
			{Status: kyc.StatusApproved, Actor: "stf_1", Note: "document released: passport reissued to the holder, ticket 42"},
		}
		if diff := cmp.Diff(want, hist, cmpopts.IgnoreFields(kyc.HistoryEntry{}, "At")); diff != "" {
			t.Fatalf("history (-want +got):\n%s", diff)
		}
		_, vis, err := f.svc.Decide(ctx, open.Reviews[0].ID, kyc.Decision{Verdict: kyc.Approve, Reason: "same person", StaffID: "stf_1"})
		if err != nil || vis.Status != kyc.StatusApproved {
			t.Fatalf("approve after release %+v %v", vis, err)
		}
		// A released visitor no longer holds it: A's new application is a
		// cross-partner duplicate of B's visitor now.
		again, err := f.register(t, "ptn_a", mrz)
		if err != nil || again.Status != kyc.StatusReview {
			t.Fatalf("A after release: %+v %v", again, err)
		}
		got, _ := f.svc.GetAny(ctx, first.ID)
		if got.DocumentReleasedAt.IsZero() {
			t.Fatal("release not stored")
		}
		// A rejected visitor holds nothing to release.
		rej, _ := f.register(t, "ptn_a", withExpiry("FRA", "DUP123456", "X", "Y", "800101", "200101"))
		if _, err := f.svc.ReleaseDocument(ctx, rej.ID, "stf_1", "x"); !errors.Is(err, kyc.ErrDocumentNotHeld) {
			t.Fatalf("release rejected: %v", err)
		}
	})
}

// TestDuplicateDocumentRaceAcrossPartners: of concurrent approvable
// applications for one passport, one is approved; the others are 409 under
// the winner's partner and review under the other, never a second approval.
func TestDuplicateDocumentRaceAcrossPartners(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		f := newFixture(t, b)
		mrz := passport("FRA", "RACE12345", "DUPONT", "MARIE", "850101")
		var wg sync.WaitGroup
		type result struct {
			partner string
			v       kyc.Visitor
			err     error
		}
		res := make([]result, 8)
		for i := range res {
			wg.Go(func() {
				p := []string{"ptn_a", "ptn_b"}[i%2]
				v, err := f.svc.Register(context.Background(), p, kyc.Application{MRZ: mrz})
				res[i] = result{p, v, err}
			})
		}
		wg.Wait()
		var winner string
		for _, r := range res {
			if r.err == nil && r.v.Status == kyc.StatusApproved {
				if winner != "" {
					t.Fatal("two approvals")
				}
				winner = r.partner
			}
		}
		if winner == "" {
			t.Fatalf("no approval: %+v", res)
		}
		for _, r := range res {
			switch {
			case r.err == nil && r.v.Status == kyc.StatusApproved:
			case r.err == nil && r.v.Status == kyc.StatusReview && r.partner != winner:
			case errors.Is(r.err, kyc.ErrDuplicateDocument):
			default:
				t.Fatalf("%s: %+v %v (winner %s)", r.partner, r.v, r.err, winner)
			}
		}
		if len(f.approved) != 1 {
			t.Fatalf("%d approvals", len(f.approved))
		}
	})
}
