package kyc_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/kyc"
)

func TestAssessReasons(t *testing.T) {
	adult := kyc.MRZ{
		Format: kyc.TD3, DocumentCode: "P", IssuingState: "UTO", Surname: "ERIKSSON", GivenNames: "ANNA MARIA",
		DocumentNumber: "L898902C3", Nationality: "UTO", DateOfBirth: date(t, "1974-08-12"), Sex: kyc.SexFemale,
		ExpiryDate: date(t, "2030-04-15"),
	}
	with := func(f func(*kyc.MRZ)) kyc.MRZ { m := adult; f(&m); return m }
	clear := kyc.Screening{Outcome: kyc.ScreeningClear}
	tests := []struct {
		name   string
		mrz    kyc.MRZ
		screen kyc.Screening
		policy kyc.Policy
		want   kyc.Assessment
	}{
		{"approved", adult, clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusApproved, Tier: kyc.TierBasic}},
		{"expires today is still valid", with(func(m *kyc.MRZ) { m.ExpiryDate = date(t, "2026-03-01") }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusApproved, Tier: kyc.TierBasic}},
		{"expired yesterday", with(func(m *kyc.MRZ) { m.ExpiryDate = date(t, "2026-02-28") }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusRejected, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonDocumentExpired}}},
		{"18 today", with(func(m *kyc.MRZ) { m.DateOfBirth = date(t, "2008-03-01") }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusApproved, Tier: kyc.TierBasic}},
		{"18 tomorrow", with(func(m *kyc.MRZ) { m.DateOfBirth = date(t, "2008-03-02") }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusRejected, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonUnderage}}},
		{"configured minimum age 21", with(func(m *kyc.MRZ) { m.DateOfBirth = date(t, "2006-01-01") }), clear, kyc.Policy{MinAge: 21},
			kyc.Assessment{Status: kyc.StatusRejected, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonUnderage}}},
		{"sanctions match", adult, kyc.Screening{Outcome: kyc.ScreeningMatch}, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusRejected, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonSanctionsMatch}}},
		{"possible sanctions match", adult, kyc.Screening{Outcome: kyc.ScreeningPossible}, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusReview, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonSanctionsPossibleMatch}}},
		{"stateless XXA", with(func(m *kyc.MRZ) { m.Nationality = "XXA" }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusReview, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonStatelessOrRefugee}}},
		{"refugee XXB", with(func(m *kyc.MRZ) { m.Nationality = "XXB" }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusReview, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonStatelessOrRefugee}}},
		{"refugee XXC", with(func(m *kyc.MRZ) { m.Nationality = "XXC" }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusReview, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonStatelessOrRefugee}}},
		{"unspecified XXX", with(func(m *kyc.MRZ) { m.Nationality = "XXX" }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusReview, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonStatelessOrRefugee}}},
		{"no given names", with(func(m *kyc.MRZ) { m.GivenNames = "" }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusReview, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonNameAmbiguous}}},
		{"no primary identifier", with(func(m *kyc.MRZ) { m.Surname, m.GivenNames = "", "FIRST NAME" }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusReview, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonNameAmbiguous}}},
		{"truncated name", with(func(m *kyc.MRZ) { m.NameTruncated = true }), clear, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusReview, Tier: kyc.TierBasic, Reasons: []kyc.Reason{kyc.ReasonNameAmbiguous}}},
		{"every reason is reported, rejection wins", with(func(m *kyc.MRZ) {
			m.ExpiryDate, m.DateOfBirth, m.Nationality, m.GivenNames = date(t, "2020-01-01"), date(t, "2010-01-01"), "XXB", ""
		}), kyc.Screening{Outcome: kyc.ScreeningPossible}, kyc.Policy{},
			kyc.Assessment{Status: kyc.StatusRejected, Tier: kyc.TierBasic, Reasons: []kyc.Reason{
				kyc.ReasonDocumentExpired, kyc.ReasonUnderage, kyc.ReasonSanctionsPossibleMatch,
				kyc.ReasonStatelessOrRefugee, kyc.ReasonNameAmbiguous}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kyc.Assess(tt.mrz, tt.screen, today, tt.policy)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAgeOnLeapDay(t *testing.T) {
	born := date(t, "2008-02-29")
	if got := born.AgeOn(date(t, "2026-02-28")); got != 17 {
		t.Fatalf("age on 28 Feb = %d", got)
	}
	if got := born.AgeOn(date(t, "2026-03-01")); got != 18 {
		t.Fatalf("age on 1 Mar = %d", got)
	}
}

func TestNewEntry(t *testing.T) {
	tests := []struct {
		name, visa, in, out string
		param               string
	}{
		{"tourist visa", "L", "2026-11-20", "2026-12-10", ""},
		{"visa-free, lower case, same day", "visa_free", "2026-11-20", "2026-11-20", ""},
		{"unknown visa type", "B2", "2026-11-20", "2026-12-10", "entry.visa_type"},
		{"bad entry date", "L", "20-11-2026", "2026-12-10", "entry.entry_date"},
		{"impossible departure", "L", "2026-11-20", "2026-11-31", "entry.planned_departure"},
		{"departure before entry", "L", "2026-11-20", "2026-11-19", "entry.planned_departure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := kyc.NewEntry(tt.visa, tt.in, tt.out)
			if tt.param != "" {
				assertFieldError(t, err, kyc.ErrEntryInvalid, tt.param)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.EntryDate().String() != tt.in || e.PlannedDeparture().String() != tt.out || e.IsZero() {
				t.Fatalf("got %v", e)
			}
		})
	}
	if _, err := kyc.NewEntry("L", "", ""); !errors.Is(err, kyc.ErrEntryInvalid) {
		t.Fatal(err)
	}
}

func TestTierWith(t *testing.T) {
	e, _ := kyc.NewEntry("L", "2026-11-20", "2026-12-10")
	v := kyc.Visitor{Status: kyc.StatusApproved}
	if v.TierWith(true) != kyc.TierBasic {
		t.Fatal("verified without entry details")
	}
	v.Entry = e
	if v.TierWith(false) != kyc.TierBasic || v.TierWith(true) != kyc.TierVerified {
		t.Fatal("tier rules")
	}
	v.Status = kyc.StatusReview
	if v.TierWith(true) != kyc.TierBasic {
		t.Fatal("verified while in review")
	}
}
