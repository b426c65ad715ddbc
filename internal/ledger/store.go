package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/money"
)

// New returns a ledger on d. d must be migrated.
func New(d *db.DB, opts ...Option) *Ledger {
	return newLedger(gormTransactor{d}, opts...)
}

// PostTx posts a batch inside the caller's transaction tx, so that the
// caller's own rows (a payment, an outbox event) commit together with the
// money. If it fails, the ledger's writes are rolled back to a savepoint, so
// the caller may still commit its other work (a declined payment, say);
// errors from the database are returned as they are, so a serialization
// failure still makes the caller's db.Transact retry.
func (l *Ledger) PostTx(ctx context.Context, tx *gorm.DB, b Batch) (Operation, error) {
	g := l.gorm().session(ctx, tx)
	if err := tx.SavePoint(savepoint).Error; err != nil {
		return Operation{}, fmt.Errorf("ledger: savepoint: %w", err)
	}
	op, err := l.post(ctx, g, b, false)
	if err != nil {
		if rerr := tx.RollbackTo(savepoint).Error; rerr != nil {
			return Operation{}, errors.Join(err, rerr)
		}
		return Operation{}, err
	}
	return op, nil
}

// PostTxNoSavepoint is PostTx without the savepoint, one round trip less,
// for callers that roll their whole transaction back whenever it returns an
// error (the escrow does): a failed batch may have written some of its rows
// (on PostgreSQL the transaction is then aborted anyway), so committing tx
// after an error would be a bug.
func (l *Ledger) PostTxNoSavepoint(ctx context.Context, tx *gorm.DB, b Batch) (Operation, error) {
	return l.post(ctx, l.gorm().session(ctx, tx), b, false)
}

// EnsureAccountTx is EnsureAccount inside the caller's transaction, for an
// account born with the caller's own row (a visitor's prepaid account).
func (l *Ledger) EnsureAccountTx(ctx context.Context, tx *gorm.DB, spec AccountSpec) (Account, error) {
	return l.ensureAccount(ctx, l.gorm().session(ctx, tx), spec)
}

// BalanceTx reads a balance inside the caller's transaction; it takes no
// lock, so the caller must not decide on it what PostTx would refuse anyway.
func (l *Ledger) BalanceTx(ctx context.Context, tx *gorm.DB, accountID string) (Balance, error) {
	s := l.gorm().session(ctx, tx)
	a, err := l.account(ctx, s, accountID)
	if err != nil {
		return Balance{}, err
	}
	c, err := s.balance(ctx, accountID)
	if err != nil {
		return Balance{}, err
	}
	return Balance{Account: a, DebitsPosted: c.debitsPosted, CreditsPosted: c.creditsPosted,
		DebitsPending: c.debitsPending, CreditsPending: c.creditsPending}, nil
}

const savepoint = "ledger_post"

type gormTransactor struct{ d *db.DB }

// gorm is the ledger's transactor; New always makes a gormTransactor.
func (l *Ledger) gorm() gormTransactor { return l.tx.(gormTransactor) }

func (g gormTransactor) session(ctx context.Context, tx *gorm.DB) *gormStore {
	return &gormStore{tx: tx.WithContext(ctx), d: g.d}
}

func (g gormTransactor) transact(ctx context.Context, readOnly bool, fn func(store) error) error {
	if readOnly {
		// One-statement reads need no transaction; on SQLite a transaction
		// would even take the write lock (IMMEDIATE).
		return fn(g.session(ctx, g.d.Gorm))
	}
	return g.d.Transact(ctx, func(tx *gorm.DB) error { return fn(g.session(ctx, tx)) })
}

func (g gormTransactor) snapshot(ctx context.Context, fn func(store) error) error {
	return g.d.Transact(ctx, func(tx *gorm.DB) error {
		if g.d.Dialect == db.Postgres {
			// Verify reads several tables; they must agree with each other
			// while transfers keep committing.
			if err := tx.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").Error; err != nil {
				return err
			}
		}
		return fn(g.session(ctx, tx))
	})
}

// gormStore implements store on one gorm session or transaction.
type gormStore struct {
	tx *gorm.DB
	d  *db.DB
}

const accountCols = "id, code, currency, kind, owner, no_negative, slots, created_at"

func scanAccount(rows *sql.Rows) (Account, error) {
	var (
		a              Account
		currency, kind string
	)
	if err := rows.Scan(&a.ID, &a.Code, &currency, &kind, &a.Owner, &a.NoNegative, &a.Slots, &a.CreatedAt); err != nil {
		return Account{}, err
	}
	var err error
	if a.Currency, err = money.LookupCurrency(currency); err != nil {
		return Account{}, fmt.Errorf("ledger: account %s: %w", a.ID, err)
	}
	if a.Kind, err = ParseKind(kind); err != nil {
		return Account{}, fmt.Errorf("ledger: account %s: %w", a.ID, err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

func (s *gormStore) oneAccount(ctx context.Context, where string, arg string) (Account, error) {
	rows, err := s.tx.Raw("SELECT "+accountCols+" FROM ledger_accounts WHERE "+where, arg).Rows()
	if err != nil {
		return Account{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Account{}, err
		}
		return Account{}, fmt.Errorf("%w: %s", ErrAccountNotFound, arg)
	}
	return scanAccount(rows)
}

func (s *gormStore) account(ctx context.Context, id string) (Account, error) {
	return s.oneAccount(ctx, "id = ?", id)
}

func (s *gormStore) accountByCode(ctx context.Context, code string) (Account, error) {
	return s.oneAccount(ctx, "code = ?", code)
}

func (s *gormStore) allAccounts(ctx context.Context) ([]Account, error) {
	return s.accounts(ctx, "1 = 1 ORDER BY id")
}

func (s *gormStore) accountsByOwner(ctx context.Context, owner string) ([]Account, error) {
	return s.accounts(ctx, "owner = ? ORDER BY code", owner)
}

func (s *gormStore) accounts(ctx context.Context, where string, args ...any) ([]Account, error) {
	rows, err := s.tx.Raw("SELECT "+accountCols+" FROM ledger_accounts WHERE "+where, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *gormStore) createAccount(ctx context.Context, a Account) (bool, error) {
	res := s.tx.Exec(`INSERT INTO ledger_accounts (`+accountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (code) DO NOTHING`,
		a.ID, a.Code, a.Currency.Code(), a.Kind.String(), a.Owner, a.NoNegative, a.Slots, a.CreatedAt)
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString("INSERT INTO ledger_balances (account_id, slot) VALUES ")
	for i := range a.Slots {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?)")
		args = append(args, a.ID, i)
	}
	return true, s.tx.Exec(q.String(), args...).Error
}

func (s *gormStore) claimReference(ctx context.Context, ref, fingerprint string, at time.Time) (bool, error) {
	res := s.tx.Exec(`INSERT INTO ledger_operations (reference, fingerprint, created_at) VALUES (?, ?, ?)
		ON CONFLICT (reference) DO NOTHING`, ref, fingerprint, at)
	return res.RowsAffected == 1, res.Error
}

func (s *gormStore) operation(ctx context.Context, ref string) (string, time.Time, []Transfer, error) {
	var op struct {
		Fingerprint string
		CreatedAt   time.Time
	}
	res := s.tx.Raw("SELECT fingerprint, created_at FROM ledger_operations WHERE reference = ?", ref).Scan(&op)
	if res.Error != nil {
		return "", time.Time{}, nil, res.Error
	}
	if res.RowsAffected == 0 {
		return "", time.Time{}, nil, fmt.Errorf("operation %s: %w", ref, errNoRow)
	}
	rows, err := s.transfers(ctx, "reference = ? ORDER BY seq", ref)
	if err != nil {
		return "", time.Time{}, nil, err
	}
	ts := make([]Transfer, len(rows))
	for i, r := range rows {
		ts[i] = r.Transfer
	}
	return op.Fingerprint, op.CreatedAt.UTC(), ts, nil
}

func (s *gormStore) adjust(ctx context.Context, accountID string, slot, slots int, d counters, guard bool, kind Kind, need int64) (counters, bool, error) {
	q := `UPDATE ledger_balances SET debits_posted = debits_posted + ?, credits_posted = credits_posted + ?,
		debits_pending = debits_pending + ?, credits_pending = credits_pending + ?
		WHERE account_id = ? AND slot = ?`
	args := []any{d.debitsPosted, d.creditsPosted, d.debitsPending, d.creditsPending, accountID, slot}
	if slots > 1 && s.d.Dialect == db.Postgres {
		// Take the first slot, from the random one on, that no other
		// transaction holds: a batch waits only when every slot is busy.
		// SKIP LOCKED never waits, so it cannot take part in a deadlock;
		// the fallback to the random slot waits like any row lock, in the
		// same total order.
		q = `UPDATE ledger_balances SET debits_posted = debits_posted + ?, credits_posted = credits_posted + ?,
			debits_pending = debits_pending + ?, credits_pending = credits_pending + ?
			WHERE account_id = ? AND slot = COALESCE(
				(SELECT slot FROM ledger_balances WHERE account_id = ? AND slot >= ? ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED),
				(SELECT slot FROM ledger_balances WHERE account_id = ? AND slot < ? ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED),
				?)`
		args = []any{d.debitsPosted, d.creditsPosted, d.debitsPending, d.creditsPending,
			accountID, accountID, slot, accountID, slot, slot}
	}
	if guard {
		// The check sits in the UPDATE so PostgreSQL evaluates it on the
		// latest committed row once the row lock is ours.
		if kind.debitNormal() {
			q += " AND debits_posted - credits_posted - credits_pending >= ?"
		} else {
			q += " AND credits_posted - debits_posted - debits_pending >= ?"
		}
		args = append(args, need)
	}
	q += " RETURNING debits_posted, credits_posted, debits_pending, credits_pending"
	rows, err := s.tx.Raw(q, args...).Rows()
	if err != nil {
		return counters{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return counters{}, false, rows.Err()
	}
	var c counters
	if err := rows.Scan(&c.debitsPosted, &c.creditsPosted, &c.debitsPending, &c.creditsPending); err != nil {
		return counters{}, false, err
	}
	return c, true, rows.Err()
}

func (s *gormStore) balanceRowExists(ctx context.Context, accountID string, slot int) (bool, error) {
	var n int64
	err := s.tx.Raw("SELECT count(*) FROM ledger_balances WHERE account_id = ? AND slot = ?", accountID, slot).Scan(&n).Error
	return n > 0, err
}

func (s *gormStore) balance(ctx context.Context, accountID string) (counters, error) {
	rows, err := s.tx.Raw(`SELECT COALESCE(SUM(debits_posted), 0), COALESCE(SUM(credits_posted), 0),
		COALESCE(SUM(debits_pending), 0), COALESCE(SUM(credits_pending), 0)
		FROM ledger_balances WHERE account_id = ?`, accountID).Rows()
	if err != nil {
		return counters{}, err
	}
	defer rows.Close()
	var c counters
	if rows.Next() {
		if err := rows.Scan(&c.debitsPosted, &c.creditsPosted, &c.debitsPending, &c.creditsPending); err != nil {
			return counters{}, err
		}
	}
	return c, rows.Err()
}

const transferCols = `seq, id, reference, kind, debit_account_id, credit_account_id, amount, currency,
	hold_id, expires_at, on_expiry, debit_balance_after, credit_balance_after, created_at`

func (s *gormStore) insertTransfers(ctx context.Context, rows []transferRow) error {
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString(`INSERT INTO ledger_transfers (id, reference, kind, debit_account_id, credit_account_id,
		amount, currency, hold_id, expires_at, on_expiry, debit_balance_after, credit_balance_after, created_at) VALUES `)
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, r.ID, r.Reference, r.Kind.String(), r.Debit, r.Credit,
			r.Amount.Minor(), r.Amount.Currency().Code(), nullString(r.HoldID), nullTime(r.ExpiresAt),
			r.OnExpiry.String(), r.debitAfter, r.creditAfter, r.CreatedAt)
	}
	q.WriteString(" RETURNING id, seq")
	res, err := s.tx.Raw(q.String(), args...).Rows()
	if err != nil {
		return err
	}
	defer res.Close()
	seqs := make(map[string]int64, len(rows))
	for res.Next() {
		var (
			id  string
			seq int64
		)
		if err := res.Scan(&id, &seq); err != nil {
			return err
		}
		seqs[id] = seq
	}
	if err := res.Err(); err != nil {
		return err
	}
	for i := range rows {
		rows[i].Seq = seqs[rows[i].ID]
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func (s *gormStore) transfers(ctx context.Context, where string, args ...any) ([]transferRow, error) {
	rows, err := s.tx.Raw("SELECT "+transferCols+" FROM ledger_transfers WHERE "+where, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanTransfers(rows)
}

func scanTransfers(rows *sql.Rows) ([]transferRow, error) {
	var out []transferRow
	for rows.Next() {
		var (
			r                     transferRow
			kind, currency, onExp string
			amount                int64
			holdID                sql.NullString
			expires               sql.NullTime
			debitAfter, credAfter sql.NullInt64
		)
		if err := rows.Scan(&r.Seq, &r.ID, &r.Reference, &kind, &r.Debit, &r.Credit, &amount, &currency,
			&holdID, &expires, &onExp, &debitAfter, &credAfter, &r.CreatedAt); err != nil {
			return nil, err
		}
		c, err := money.LookupCurrency(currency)
		if err != nil {
			return nil, fmt.Errorf("ledger: transfer %s: %w", r.ID, err)
		}
		r.Kind, r.Amount, r.HoldID, r.OnExpiry = parseTransferKind(kind), money.New(amount, c), holdID.String, parseExpiry(onExp)
		if expires.Valid {
			r.ExpiresAt = expires.Time.UTC()
		}
		r.CreatedAt = r.CreatedAt.UTC()
		if debitAfter.Valid {
			r.debitAfter = &debitAfter.Int64
		}
		if credAfter.Valid {
			r.creditAfter = &credAfter.Int64
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *gormStore) transfer(ctx context.Context, id string) (Transfer, error) {
	rows, err := s.transfers(ctx, "id = ?", id)
	if err != nil {
		return Transfer{}, err
	}
	if len(rows) == 0 {
		return Transfer{}, fmt.Errorf("transfer %s: %w", id, errNoRow)
	}
	return rows[0].Transfer, nil
}

func (s *gormStore) resolution(ctx context.Context, holdID string) (Transfer, bool, error) {
	rows, err := s.transfers(ctx, "hold_id = ?", holdID)
	if err != nil || len(rows) == 0 {
		return Transfer{}, false, err
	}
	return rows[0].Transfer, true, nil
}

func (s *gormStore) statement(ctx context.Context, accountID string, after int64, limit int) ([]transferRow, error) {
	// Two index range scans merged, rather than one OR that no index serves.
	q := `SELECT * FROM (SELECT ` + transferCols + ` FROM ledger_transfers WHERE debit_account_id = ? AND seq > ? ORDER BY seq LIMIT ?) AS d
		UNION ALL
		SELECT * FROM (SELECT ` + transferCols + ` FROM ledger_transfers WHERE credit_account_id = ? AND seq > ? ORDER BY seq LIMIT ?) AS c
		ORDER BY seq LIMIT ?`
	rows, err := s.tx.Raw(q, accountID, after, limit, accountID, after, limit, limit).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanTransfers(rows)
}

func (s *gormStore) insertHolds(ctx context.Context, hs []hold) error {
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString("INSERT INTO ledger_holds (hold_id, debit_account_id, credit_account_id, amount, currency, expires_at, on_expiry) VALUES ")
	for i, h := range hs {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
		args = append(args, h.id, h.debit, h.credit, h.amount.Minor(), h.amount.Currency().Code(), nullTime(h.expiresAt), h.onExpiry.String())
	}
	return s.tx.Exec(q.String(), args...).Error
}

func (s *gormStore) takeHold(ctx context.Context, id string) (hold, bool, error) {
	// DELETE locks the row: a concurrent post or void of the same hold waits
	// here, then finds the row gone.
	rows, err := s.tx.Raw(`DELETE FROM ledger_holds WHERE hold_id = ?
		RETURNING hold_id, debit_account_id, credit_account_id, amount, currency, expires_at, on_expiry`, id).Rows()
	if err != nil {
		return hold{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return hold{}, false, rows.Err()
	}
	var (
		h               hold
		amount          int64
		currency, onExp string
		expires         sql.NullTime
	)
	if err := rows.Scan(&h.id, &h.debit, &h.credit, &amount, &currency, &expires, &onExp); err != nil {
		return hold{}, false, err
	}
	c, err := money.LookupCurrency(currency)
	if err != nil {
		return hold{}, false, fmt.Errorf("ledger: hold %s: %w", id, err)
	}
	h.amount, h.onExpiry = money.New(amount, c), parseExpiry(onExp)
	if expires.Valid {
		h.expiresAt = expires.Time.UTC()
	}
	return h, true, rows.Err()
}

func (s *gormStore) claimExpired(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var due []struct{ HoldID string }
	q := s.tx.Table("ledger_holds").Select("hold_id").
		Where("expires_at IS NOT NULL AND expires_at <= ?", now.UTC()).
		Order("expires_at").Limit(limit)
	// Several replicas run the job; each takes holds the others have not.
	q = s.d.ForUpdateSkipLocked(q)
	if err := q.Find(&due).Error; err != nil {
		return nil, err
	}
	out := make([]string, len(due))
	for i, d := range due {
		out[i] = d.HoldID
	}
	return out, nil
}

// storedSums is every account's balance counters, summed over its slots.
func (s *gormStore) storedSums(ctx context.Context) (map[string]counters, error) {
	rows, err := s.tx.Raw(`SELECT account_id, SUM(debits_posted), SUM(credits_posted), SUM(debits_pending), SUM(credits_pending)
		FROM ledger_balances GROUP BY account_id`).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]counters{}
	for rows.Next() {
		var (
			id string
			c  counters
		)
		if err := rows.Scan(&id, &c.debitsPosted, &c.creditsPosted, &c.debitsPending, &c.creditsPending); err != nil {
			return nil, err
		}
		out[id] = c
	}
	return out, rows.Err()
}

// entrySums recomputes every account's counters from the transfers: the
// posted sums from checkpoint from (0: none) plus the transfers after it,
// the pending sums from the unresolved holds.
func (s *gormStore) entrySums(ctx context.Context, from int64) (map[string]counters, error) {
	out := map[string]counters{}
	if from > 0 {
		if err := s.checkpointSums(from, out); err != nil {
			return nil, err
		}
	}
	const unresolved = `kind = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.hold_id = t.id)`
	parts := []struct {
		q   string
		set func(*counters, int64)
	}{
		{`SELECT debit_account_id, SUM(amount) FROM ledger_transfers t WHERE seq > ? AND kind IN ('posted', 'post_pending') GROUP BY debit_account_id`,
			func(c *counters, v int64) { c.debitsPosted += v }},
		{`SELECT credit_account_id, SUM(amount) FROM ledger_transfers t WHERE seq > ? AND kind IN ('posted', 'post_pending') GROUP BY credit_account_id`,
			func(c *counters, v int64) { c.creditsPosted += v }},
		{`SELECT debit_account_id, SUM(amount) FROM ledger_transfers t WHERE seq > ? AND ` + unresolved + ` GROUP BY debit_account_id`,
			func(c *counters, v int64) { c.debitsPending += v }},
		{`SELECT credit_account_id, SUM(amount) FROM ledger_transfers t WHERE seq > ? AND ` + unresolved + ` GROUP BY credit_account_id`,
			func(c *counters, v int64) { c.creditsPending += v }},
	}
	for i, p := range parts {
		after := from
		if i >= 2 {
			after = 0 // a hold before the checkpoint may still be open
		}
		if err := s.sumInto(p.q, out, p.set, after); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkpointSums adds the posted sums stored with checkpoint seq to out.
func (s *gormStore) checkpointSums(seq int64, out map[string]counters) error {
	rows, err := s.tx.Raw(`SELECT account_id, debits_posted, credits_posted FROM ledger_checkpoint_sums WHERE checkpoint_seq = ?`, seq).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   string
			d, c int64
		)
		if err := rows.Scan(&id, &d, &c); err != nil {
			return err
		}
		v := out[id]
		v.debitsPosted += d
		v.creditsPosted += c
		out[id] = v
	}
	return rows.Err()
}

// entrySumsOfCheckpoint is the posted sums stored with checkpoint seq.
func (s *gormStore) entrySumsOfCheckpoint(seq int64) (map[string]counters, error) {
	out := map[string]counters{}
	return out, s.checkpointSums(seq, out)
}

// postedSumsUpTo recomputes the posted sums of the transfers up to seq.
func (s *gormStore) postedSumsUpTo(seq int64) (map[string]counters, error) {
	out := map[string]counters{}
	for _, p := range []struct {
		q   string
		set func(*counters, int64)
	}{
		{`SELECT debit_account_id, SUM(amount) FROM ledger_transfers WHERE seq <= ? AND kind IN ('posted', 'post_pending') GROUP BY debit_account_id`,
			func(c *counters, v int64) { c.debitsPosted += v }},
		{`SELECT credit_account_id, SUM(amount) FROM ledger_transfers WHERE seq <= ? AND kind IN ('posted', 'post_pending') GROUP BY credit_account_id`,
			func(c *counters, v int64) { c.creditsPosted += v }},
	} {
		if err := s.sumInto(p.q, out, p.set, seq); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lastCheckpoint is the sequence number of the latest checkpoint, 0 if none.
func (s *gormStore) lastCheckpoint(ctx context.Context) (int64, error) {
	var seq int64
	err := s.tx.Raw(`SELECT COALESCE(MAX(seq), 0) FROM ledger_checkpoints`).Scan(&seq).Error
	return seq, err
}

// quiescedMaxSeq is the highest transfer sequence number such that every
// transfer at or below it has committed (or rolled back): on PostgreSQL a
// SHARE lock on the table waits for the transactions that are inserting
// transfers and keeps new ones out until this transaction ends, and a
// transfer's number is drawn by its INSERT, under that table's lock; on
// SQLite the write transaction is the only writer anyway.
func (s *gormStore) quiescedMaxSeq(ctx context.Context) (int64, error) {
	if s.d.Dialect == db.Postgres {
		if err := s.tx.Exec(`LOCK TABLE ledger_transfers IN SHARE MODE`).Error; err != nil {
			return 0, err
		}
	}
	var seq int64
	err := s.tx.Raw(`SELECT COALESCE(MAX(seq), 0) FROM ledger_transfers`).Scan(&seq).Error
	return seq, err
}

// writeCheckpoint stores checkpoint seq as checkpoint prev (0: none) plus
// the posted transfers in (prev, seq], and drops the sums of checkpoints
// before prev (their rows stay, as history).
func (s *gormStore) writeCheckpoint(ctx context.Context, prev, seq int64, at time.Time) (Checkpoint, error) {
	var n int64
	if err := s.tx.Raw(`SELECT COUNT(*) FROM ledger_transfers WHERE seq > ? AND seq <= ?`, prev, seq).Scan(&n).Error; err != nil {
		return Checkpoint{}, err
	}
	var before int64
	if prev > 0 {
		if err := s.tx.Raw(`SELECT transfers FROM ledger_checkpoints WHERE seq = ?`, prev).Scan(&before).Error; err != nil {
			return Checkpoint{}, err
		}
	}
	cp := Checkpoint{Seq: seq, Transfers: before + n, CreatedAt: at}
	if err := s.tx.Exec(`INSERT INTO ledger_checkpoints (seq, transfers, accounts, created_at) VALUES (?, ?, 0, ?)`,
		seq, cp.Transfers, at).Error; err != nil {
		return Checkpoint{}, err
	}
	res := s.tx.Exec(`INSERT INTO ledger_checkpoint_sums (checkpoint_seq, account_id, debits_posted, credits_posted)
		SELECT ?, account_id, SUM(d), SUM(c) FROM (
			SELECT account_id, debits_posted AS d, credits_posted AS c FROM ledger_checkpoint_sums WHERE checkpoint_seq = ?
			UNION ALL
			SELECT debit_account_id, amount, 0 FROM ledger_transfers WHERE seq > ? AND seq <= ? AND kind IN ('posted', 'post_pending')
			UNION ALL
			SELECT credit_account_id, 0, amount FROM ledger_transfers WHERE seq > ? AND seq <= ? AND kind IN ('posted', 'post_pending')
		) x GROUP BY account_id`, seq, prev, prev, seq, prev, seq)
	if res.Error != nil {
		return Checkpoint{}, res.Error
	}
	cp.Accounts = res.RowsAffected
	if err := s.tx.Exec(`UPDATE ledger_checkpoints SET accounts = ? WHERE seq = ?`, cp.Accounts, seq).Error; err != nil {
		return Checkpoint{}, err
	}
	if err := s.tx.Exec(`DELETE FROM ledger_checkpoint_sums WHERE checkpoint_seq < ?`, prev).Error; err != nil {
		return Checkpoint{}, err
	}
	return cp, nil
}

// sumInto runs a (account id, sum) query and stores each sum with set.
func (s *gormStore) sumInto(q string, out map[string]counters, set func(*counters, int64), args ...any) error {
	rows, err := s.tx.Raw(q, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			v  int64
		)
		if err := rows.Scan(&id, &v); err != nil {
			return err
		}
		c := out[id]
		set(&c, v)
		out[id] = c
	}
	return rows.Err()
}

// holdMismatches lists unresolved holds missing from the open-holds queue
// and queue rows that are not unresolved holds.
func (s *gormStore) holdMismatches(ctx context.Context) (missing, orphans []string, err error) {
	if err = s.tx.Raw(`SELECT t.id FROM ledger_transfers t WHERE t.kind = 'pending'
		AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.hold_id = t.id)
		AND NOT EXISTS (SELECT 1 FROM ledger_holds h WHERE h.hold_id = t.id) ORDER BY t.id`).Scan(&missing).Error; err != nil {
		return nil, nil, err
	}
	err = s.tx.Raw(`SELECT h.hold_id FROM ledger_holds h WHERE NOT EXISTS (
		SELECT 1 FROM ledger_transfers t WHERE t.id = h.hold_id AND t.kind = 'pending'
		AND t.debit_account_id = h.debit_account_id AND t.credit_account_id = h.credit_account_id AND t.amount = h.amount
		AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.hold_id = t.id)) ORDER BY h.hold_id`).Scan(&orphans).Error
	return missing, orphans, err
}

// foreignTransfers lists the transfers after from whose accounts are missing or hold
// another currency than the transfer.
func (s *gormStore) foreignTransfers(ctx context.Context, from int64) ([]string, error) {
	var out []string
	err := s.tx.Raw(`SELECT t.id FROM ledger_transfers t
		LEFT JOIN ledger_accounts d ON d.id = t.debit_account_id
		LEFT JOIN ledger_accounts c ON c.id = t.credit_account_id
		WHERE t.seq > ? AND (d.id IS NULL OR c.id IS NULL OR d.currency <> t.currency OR c.currency <> t.currency)
		ORDER BY t.id`, from).Scan(&out).Error
	return out, err
}
