package idempotency

import "context"

type requestKey struct{}

// WithRequestKey marks ctx as the execution of the request with this
// idempotency scope and key. Domain code that starts a multi-step money
// movement records it, so a retry after a crash resumes that movement.
func WithRequestKey(ctx context.Context, scope, key string) context.Context {
	return context.WithValue(ctx, requestKey{}, scope+"/"+key)
}

// RequestKey returns the request's scoped idempotency key, or "".
func RequestKey(ctx context.Context) string {
	k, _ := ctx.Value(requestKey{}).(string)
	return k
}
