package cardnet

// MemorySizes reports the sizes of the engine's in-memory structures, for
// the test that they stay bounded.
func (e *Engine) MemorySizes() (msgs, order, days, tombstones int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.msgs), len(e.order), len(e.settled), len(e.tombstones)
}
