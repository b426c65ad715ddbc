package db

import (
	"context"

	"gorm.io/gorm"
)

// Hook runs inside a domain transaction just before it commits, with the
// operation's result. The HTTP layer uses it to store the idempotent
// response in the same transaction as the change it describes, so a crash
// can never leave a change without its stored response (or the reverse).
type Hook func(tx *Tx, result any) error

// Tx is a database transaction, named here so that code outside the store
// files can pass one along without importing gorm.
type Tx = gorm.DB

type hookKey struct{}

// WithHook returns ctx carrying h (after any hooks already there).
func WithHook(ctx context.Context, h Hook) context.Context {
	prev, _ := ctx.Value(hookKey{}).([]Hook)
	hooks := append(append([]Hook(nil), prev...), h)
	return context.WithValue(ctx, hookKey{}, hooks)
}

// RunHooks calls the hooks in ctx with result. Domain services call it as
// the last step of the transaction of every mutating operation.
func RunHooks(ctx context.Context, tx *gorm.DB, result any) error {
	hooks, _ := ctx.Value(hookKey{}).([]Hook)
	for _, h := range hooks {
		if err := h(tx, result); err != nil {
			return err
		}
	}
	return nil
}
