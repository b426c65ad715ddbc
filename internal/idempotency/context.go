package idempotency

// ScopedKey is the request key a multi-step money movement records (the
// RequestKey of a prepaid load or unload input): the idempotency scope and
// key of the request, so a retry after a crash resumes that movement.
func ScopedKey(scope, key string) string { return scope + "/" + key }
