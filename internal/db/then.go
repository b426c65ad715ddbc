package db

import "gorm.io/gorm"

// Tx is a database transaction, named here so that code outside the store
// files can pass one along without importing gorm.
type Tx = gorm.DB

// Then is work a caller adds to the end of a domain operation's
// transaction, given the operation's result. The HTTP layer stores the
// idempotent response there, and an admin action its audit record, so a
// crash can never leave a change without its stored response (or the
// reverse). A domain function that accepts Thens passes them explicitly
// down to the transaction that commits its result and calls RunThen as the
// last step of it; the domain knows nothing of what they write.
type Then[T any] func(tx *Tx, result T) error

// RunThen calls thens in order with result, stopping at the first error
// (which rolls the transaction back).
func RunThen[T any](tx *Tx, result T, thens ...Then[T]) error {
	for _, then := range thens {
		if then == nil {
			continue
		}
		if err := then(tx, result); err != nil {
			return err
		}
	}
	return nil
}
