package console

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// sessionByHash reads the stored session whose id hashes to hash.
func (c *Console) sessionByHash(ctx context.Context, hash string) (sessionRow, bool, error) {
	var row sessionRow
	err := c.api.DB.WithContext(ctx).Where("id_hash = ?", hash).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return sessionRow{}, false, nil
	}
	if err != nil {
		return sessionRow{}, false, fmt.Errorf("console: session: %w", err)
	}
	return row, true, nil
}
