package httpapi

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/audit"
	"github.com/inbound-gateway/inbound/internal/db"
)

// answer says how a mutating handler answers from its operation's result.
type answer[T any] struct {
	// status is the answer's status for the result.
	status func(T) int
	// render is the response body. It runs inside the operation's
	// transaction (tx), so it can read rows the operation wrote; when the
	// operation returned without running its Thens (no change to answer
	// for), it runs after, on the database outside any transaction.
	render func(tx *db.Tx, result T) (any, error)
	// stored, when set, is the body the idempotent record keeps instead of
	// render's: a secret shown once is in this answer only, and redacted
	// in what a replay returns for 24 h.
	stored func(result T) any
	// audit, when set, writes the audit record of an admin action in the
	// same transaction, after the stored response.
	audit db.Then[T]
}

// reply is the answer with a fixed status and a body from the result alone.
func reply[T any](status int, render func(T) any) answer[T] {
	return answer[T]{
		status: func(T) int { return status },
		render: func(_ *db.Tx, r T) (any, error) { return render(r), nil },
	}
}

// replyTx is reply for a body that reads inside the transaction.
func replyTx[T any](status int, render func(tx *db.Tx, result T) (any, error)) answer[T] {
	return answer[T]{status: func(T) int { return status }, render: render}
}

// audited returns a with the audit record of an admin action: describe
// names the target and summarises the result (ids, statuses and changed
// field names only, never personal data or secrets: the log is kept for
// ever and every viewer reads it).
func audited[T any](s *Server, c *gin.Context, a answer[T], action, reason string, describe func(T) (string, audit.Summary)) answer[T] {
	st, _ := staffOf(c)
	a.audit = func(tx *db.Tx, result T) error {
		target, after := describe(result)
		_, err := audit.Record(tx, audit.Entry{
			ActorID: st.ID, ActorRole: st.Role.String(), Action: action, Target: target,
			Reason: reason, RequestID: requestIDOf(c), After: audit.State(after), CreatedAt: s.Now(),
		})
		return err
	}
	return a
}

// mutate runs a mutating domain operation and answers from its result.
//
// The operation gets the work to do last in the transaction that commits
// its result: the stored idempotent response (when the request has an
// Idempotency-Key), then the audit record of an admin action. So a change
// never commits without the response that describes it, nor the reverse,
// and the response is rendered once: the first answer and every replay
// carry the same bytes.
func mutate[T any](s *Server, c *gin.Context, a answer[T], do func(ctx context.Context, then ...db.Then[T]) (T, error)) {
	var (
		ran    bool
		status int
		body   []byte
	)
	p := pendingOf(c)
	answerInTx := func(tx *db.Tx, result T) error {
		var err error
		if status, body, err = renderAnswer(a, tx, result); err != nil {
			return err
		}
		ran = true
		if p == nil {
			return nil
		}
		stored := body
		if a.stored != nil {
			if stored, err = jsonBody(a.stored(result)); err != nil {
				return err
			}
		}
		if err := s.idem.SaveTx(tx, s.record(p, status, stored)); err != nil {
			return err
		}
		p.saved, p.body, p.status = true, stored, status
		if a.stored != nil {
			// This answer shows more than was stored.
			p.body = nil
		}
		return nil
	}
	thens := []db.Then[T]{answerInTx}
	if a.audit != nil {
		thens = append(thens, a.audit)
	}
	result, err := do(c.Request.Context(), thens...)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ran {
		// The operation changed nothing it had to answer for in a
		// transaction (a card verified meanwhile by a twin): render now.
		if status, body, err = renderAnswer(a, s.DB.Gorm.WithContext(c.Request.Context()), result); err != nil {
			s.fail(c, err)
			return
		}
	}
	c.Data(status, "application/json; charset=utf-8", body)
}

// renderAnswer is the status and body of a's answer to result.
func renderAnswer[T any](a answer[T], tx *db.Tx, result T) (int, []byte, error) {
	obj, err := a.render(tx, result)
	if err != nil {
		return 0, nil, err
	}
	body, err := jsonBody(obj)
	if err != nil {
		return 0, nil, err
	}
	return a.status(result), body, nil
}

// respond writes obj as the JSON response with status (reads, and answers
// that change nothing).
func (s *Server) respond(c *gin.Context, status int, obj any) {
	body, err := jsonBody(obj)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(status, "application/json; charset=utf-8", body)
}
