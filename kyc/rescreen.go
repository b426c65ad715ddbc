package kyc

import (
	"context"
	"fmt"

	"github.com/inbound-gateway/inbound/internal/ids"
)

// ActorRescreen is the actor of the changes the re-screening job makes, in
// the visitor's history and in the audit log.
const ActorRescreen = "system:rescreen"

// versioned is a Screener that knows the version of the list it holds
// (*SanctionsList does), so the job can skip visitors already screened
// against it.
type versioned interface{ Version() string }

// RescreenResult says what a re-screening run did.
type RescreenResult struct {
	ListVersion string
	Screened    int // visitors screened again
	Flagged     int // approved visitors sent to review (and frozen)
}

// rescreenPage is how many visitors a run reads at a time.
const rescreenPage = 200

// Rescreen screens every active visitor (approved or in review) again whose
// latest screening was made against another list version, and records the
// new screening. An approved visitor who is now a possible or confirmed
// match goes to review with an open review, its account frozen by the
// store's Rescreened hook and an audit record written, all in one
// transaction per visitor (actor ActorRescreen). A visitor already in
// review only gets the new screening, which the reviewer sees. Running it
// again against the same list does nothing, so it is safe to run on every
// start and on a schedule.
func (s *Service) Rescreen(ctx context.Context) (RescreenResult, error) {
	var res RescreenResult
	if v, ok := s.screener.(versioned); ok {
		res.ListVersion = v.Version()
	}
	after := ""
	for {
		page, err := s.store.ActiveVisitors(ctx, after, rescreenPage)
		if err != nil {
			return res, err
		}
		for _, v := range page {
			after = v.ID
			flagged, screened, err := s.rescreenOne(ctx, v, res.ListVersion)
			if err != nil {
				return res, fmt.Errorf("kyc: rescreen %s: %w", v.ID, err)
			}
			if screened {
				res.Screened++
			}
			if flagged {
				res.Flagged++
			}
		}
		if len(page) < rescreenPage {
			return res, nil
		}
	}
}

func (s *Service) rescreenOne(ctx context.Context, v Visitor, version string) (flagged, screened bool, err error) {
	prev, err := s.store.Screenings(ctx, v.ID)
	if err != nil {
		return false, false, err
	}
	if version != "" && len(prev) > 0 && prev[len(prev)-1].ListVersion == version {
		return false, false, nil
	}
	now := s.now().UTC()
	sc := s.screener.Screen(v.Surname, v.GivenNames, v.DateOfBirth)
	rec := ScreeningRecord{ID: ids.New("scr"), VisitorID: v.ID, Screening: sc, CreatedAt: now}
	err = s.store.Rescreen(ctx, rec, func(cur Visitor) (Visitor, Change, string, bool) {
		if cur.Status != StatusApproved || sc.Outcome == ScreeningClear {
			return cur, Change{}, "", false
		}
		reason := ReasonSanctionsPossibleMatch
		if sc.Outcome == ScreeningMatch {
			// A person decides even on a confirmed hit found by the job:
			// the visitor has an account that may hold money.
			reason = ReasonSanctionsMatch
		}
		from := cur.Status
		cur.Status, cur.Reasons, cur.UpdatedAt = StatusReview, []Reason{reason}, now
		reviewID := ids.New(ids.Review)
		return cur, Change{Visitor: cur, From: from, Actor: ActorRescreen,
			Reason: "listed on sanctions list " + sc.ListVersion, ReviewID: reviewID}, reviewID, true
	})
	if err != nil {
		return false, false, err
	}
	flagged = v.Status == StatusApproved && sc.Outcome != ScreeningClear
	return flagged, true, nil
}
