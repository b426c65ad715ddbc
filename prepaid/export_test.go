package prepaid

// Helpers only the tests use. Production sets the profile inside the card
// binding's transaction (SetProfileTx).

import (
	"context"
	"fmt"
)

// SetProfile sets the visitor's limit profile (verified once the visitor
// qualifies, docs/API.md "Limits and fees").
func (s *Store) SetProfile(ctx context.Context, visitorID string, p Profile) error {
	if p != Basic && p != Verified {
		return fmt.Errorf("prepaid: unknown profile %q", p)
	}
	res := s.db.WithContext(ctx).Model(&accountRow{}).Where("visitor_id = ?", visitorID).Update("profile", string(p))
	if res.Error != nil {
		return fmt.Errorf("prepaid: set profile: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
