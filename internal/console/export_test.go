package console

// SetAfterConfirmCheck sets a hook run after a confirmation is found live
// and before the action runs; nil removes it.
func SetAfterConfirmCheck(f func()) {
	if f == nil {
		afterConfirmCheck.Store(nil)
		return
	}
	afterConfirmCheck.Store(&f)
}
