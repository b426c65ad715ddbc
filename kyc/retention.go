package kyc

import (
	"context"
	"time"
)

// DefaultRetention is how long KYC records and transaction history are kept
// after the business relationship ends: five years, as the PRC
// Anti-Money Laundering Law (adopted 2006, art. 19; the 2024 revision keeps
// the five-year minimum) and FATF Recommendation 11 require of financial
// institutions.
const DefaultRetention = 5 * 365 * 24 * time.Hour

// EraseExpired pseudonymises the personal data of visitors whose retention
// ended: those of closedIDs (visitors whose account closed more than the
// retention period ago, which the caller finds) and rejected visitors,
// never given an account, rejected more than retention ago. Their name,
// birth date, sealed passport number and its index, phone and email are
// erased; ids, statuses, history and everything in the ledger stay, so the
// books still balance. It returns how many visitors it erased.
func (s *Service) EraseExpired(ctx context.Context, closedIDs []string, retention time.Duration) (int, error) {
	if retention <= 0 {
		retention = DefaultRetention
	}
	now := s.now().UTC()
	return s.store.Erase(ctx, closedIDs, now.Add(-retention), now)
}
