// Package keys manages the master keyring over the database: it opens the
// vault the service runs with, checks at start that the keyring can open
// what is stored, and re-seals every sealed column under the current key
// so an old key can be dropped after a rotation.
//
// The HMAC key of the lookup indexes (passport duplicates, card
// fingerprints) is not tied to whichever master key is current: it is kept
// in the vault_keys table, sealed under the keyring like any secret, and
// re-sealed with the rest. On a new database it is random; on one written
// by an earlier version (which derived it from its one master key) it is
// that derivation, found by reproducing a stored index, so existing
// indexes stay valid. From then on a rotation never changes it and nothing
// needs re-indexing.
package keys

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/kyc"
)

// Errors of the package.
var (
	// ErrKeyMissing means stored data is sealed under a key that is not in
	// the keyring: an operator error (a key dropped too early, or the wrong
	// key configured). The error text names the key id, never key material.
	ErrKeyMissing = errors.New("keys: sealed data needs a key that is not in the keyring")
	// ErrBadPrevious means INBOUND_MASTER_KEY_PREVIOUS does not parse.
	ErrBadPrevious = errors.New("keys: INBOUND_MASTER_KEY_PREVIOUS must be comma-separated base64 32-byte keys")
)

// indexKeyName is the vault_keys row of the index key.
const indexKeyName = "index"

// Column is one column holding vault.Seal output, with the label each row
// was sealed under (labels bind a ciphertext to its place).
type Column struct {
	Table  string
	Column string
	PK     []string
	Label  func(pk []string) string
}

// Name is "table.column".
func (c Column) Name() string { return c.Table + "." + c.Column }

func fixed(label string) func([]string) string { return func([]string) string { return label } }

// Columns are every sealed column of the schema. The labels must match the
// ones the owning packages seal with; the rotation tests read each column
// back through its owner after a re-seal, and a test checks that every
// *_sealed column of the migrations is listed.
var Columns = []Column{
	{Table: "vault_keys", Column: "sealed", PK: []string{"name"}, Label: func(pk []string) string { return "vault-key:" + pk[0] }},
	{Table: "visitors", Column: "number_sealed", PK: []string{"id"}, Label: fixed("passport")},
	{Table: "cards", Column: "pan_sealed", PK: []string{"id"}, Label: fixed("pan")},
	{Table: "webhook_endpoints", Column: "secret_sealed", PK: []string{"id"}, Label: func(pk []string) string { return "webhook-secret:" + pk[0] }},
	{Table: "idempotency_keys", Column: "response_body", PK: []string{"scope", "idem_key"}, Label: func(pk []string) string {
		return "idempotency-response:" + pk[0] + ":" + pk[1]
	}},
}

// ParsePrevious parses a comma-separated list of base64 keys (empty: none).
func ParsePrevious(s string) ([][]byte, error) {
	var out [][]byte
	for i, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		k, err := vault.ParseKey(part)
		if err != nil {
			return nil, fmt.Errorf("%w (entry %d)", ErrBadPrevious, i+1)
		}
		out = append(out, k)
	}
	return out, nil
}

// Open builds the service's vault: it seals under current, opens what
// current or previous sealed, and indexes under the stored index key,
// storing it first if this database has none yet. It fails with
// ErrKeyMissing when the stored index key was sealed under a key not in
// the ring: a wrong or missing key, which must stop the start rather than
// let this replica compute indexes no other replica can match.
func Open(ctx context.Context, d *db.DB, current []byte, previous [][]byte) (*vault.Vault, error) {
	for _, p := range previous {
		if vault.KeyID(p) == vault.KeyID(current) {
			return nil, fmt.Errorf("%w: INBOUND_MASTER_KEY_PREVIOUS holds the current key %s", ErrBadPrevious, vault.KeyID(current))
		}
	}
	base, err := vault.New(current, previous...)
	if err != nil {
		return nil, err
	}
	st := store{db: d}
	label := "vault-key:" + indexKeyName
	sealed, found, err := st.indexKey(ctx)
	if err != nil {
		return nil, err
	}
	if !found {
		ik, err := firstIndexKey(ctx, st, base, current, previous)
		if err != nil {
			return nil, err
		}
		if err := st.insertIndexKey(ctx, base.Seal(label, ik), time.Now().UTC()); err != nil {
			return nil, err
		}
		if sealed, _, err = st.indexKey(ctx); err != nil {
			return nil, err
		}
	}
	ik, err := base.Open(label, sealed)
	var uk *vault.UnknownKeyError
	if errors.As(err, &uk) {
		return nil, fmt.Errorf("%w: the lookup index key is sealed under key id %s, and the keyring holds %s; configure the master key this database was set up with (INBOUND_MASTER_KEY, or INBOUND_MASTER_KEY_PREVIOUS during a rotation)",
			ErrKeyMissing, uk.KeyID, strings.Join(base.KeyIDs(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("keys: open the lookup index key: %w", err)
	}
	return vault.NewKeyring(ik, current, previous...)
}

// firstIndexKey picks the index key of a database that has none stored
// yet. Earlier versions derived it from their one master key, so it is the
// derivation of one of the ring's keys: the one that reproduces the index
// stored beside the oldest card and the oldest visitor. With nothing
// indexed yet it is random. If no key of the ring
// reproduces the stored indexes, the start is refused: this replica would
// otherwise miss every duplicate and every card lookup.
func firstIndexKey(ctx context.Context, st store, ring *vault.Vault, current []byte, previous [][]byte) ([]byte, error) {
	card, visitor, err := st.probes(ctx)
	if err != nil {
		return nil, err
	}
	if card == nil && visitor == nil {
		// Nothing indexed yet: a random key, tied to no master key, so
		// a master key that leaks later does not reveal it.
		ik := make([]byte, 32)
		if _, err := rand.Read(ik); err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		return ik, nil
	}
	var pan, passport string
	for _, p := range []struct {
		probe *indexProbe
		label string
		dst   *string
	}{{card, "pan", &pan}, {visitor, "passport", &passport}} {
		if p.probe == nil {
			continue
		}
		pt, err := ring.Open(p.label, p.probe.Sealed)
		var uk *vault.UnknownKeyError
		if errors.As(err, &uk) {
			return nil, fmt.Errorf("%w: stored %s values are sealed under key id %s, and the keyring holds %s; configure the master key this database was set up with",
				ErrKeyMissing, p.label, uk.KeyID, strings.Join(ring.KeyIDs(), ", "))
		}
		if err != nil {
			return nil, fmt.Errorf("keys: open a stored %s value: %w", p.label, err)
		}
		*p.dst = string(pt)
	}
	for _, k := range append([][]byte{current}, previous...) {
		ik, err := vault.DeriveIndexKey(k)
		if err != nil {
			return nil, err
		}
		v, err := vault.NewKeyring(ik, current, previous...)
		if err != nil {
			return nil, err
		}
		if card != nil && v.Index("pan", pan) != card.Index {
			continue
		}
		if visitor != nil && kyc.DocumentIndex(v, visitor.State, passport) != visitor.Index {
			continue
		}
		return ik, nil
	}
	return nil, fmt.Errorf("%w: no key of the ring (%s) reproduces the lookup indexes stored in this database; configure the master key it was set up with",
		ErrKeyMissing, strings.Join(ring.KeyIDs(), ", "))
}

// Check looks at up to sample rows from each end of every sealed column
// (for ULID keys: the oldest and the newest) and fails with ErrKeyMissing,
// naming the columns and key ids, if any is sealed under a key the vault
// lacks. It is the start-up guard against dropping a key before the
// re-seal finished; a row it does not sample is caught when read.
func Check(ctx context.Context, d *db.DB, v *vault.Vault, sample int) error {
	st := store{db: d}
	var problems []string
	for _, c := range Columns {
		rows, err := st.edges(ctx, c, sample)
		if err != nil {
			return err
		}
		missing := map[string]bool{}
		for _, r := range rows {
			if kid := vault.SealedKeyID(r.sealed); !v.HasKey(kid) {
				missing[kid] = true
			}
		}
		if len(missing) > 0 {
			problems = append(problems, c.Name()+" has rows under key id "+strings.Join(sortedKeys(missing), ", "))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s; the keyring holds %s. Put the missing key back in INBOUND_MASTER_KEY_PREVIOUS, then run `inbound keys reseal` before dropping it",
			ErrKeyMissing, strings.Join(problems, "; "), strings.Join(v.KeyIDs(), ", "))
	}
	return nil
}

// ColumnStatus counts the rows of one column per key id.
type ColumnStatus struct {
	Column Column
	ByKey  map[string]int64
}

// Status counts, for every sealed column, the rows under each key id: a key
// can be dropped once no column has rows under it.
func Status(ctx context.Context, d *db.DB) ([]ColumnStatus, error) {
	st := store{db: d}
	out := make([]ColumnStatus, 0, len(Columns))
	for _, c := range Columns {
		m, err := st.countByKey(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, ColumnStatus{Column: c, ByKey: m})
	}
	return out, nil
}

// ColumnResult is what Reseal did to one column.
type ColumnResult struct {
	Column   Column
	Resealed int
	// Unopenable counts rows that could not be opened, per key id (or
	// "invalid" for damaged values). They keep their old value.
	Unopenable map[string]int
}

// Reseal re-encrypts, batch by batch, every sealed value not under the
// vault's current key, and reports per column. Each batch commits on its
// own and a value is only replaced if unchanged since read, so Reseal can
// run beside the service, be interrupted and be run again: rows already
// under the current key are skipped. Rows it cannot open are counted and
// left alone; the result then is an ErrKeyMissing error, and the key they
// need must stay in the ring.
func Reseal(ctx context.Context, d *db.DB, v *vault.Vault, batch int, progress func(ColumnResult)) ([]ColumnResult, error) {
	if batch <= 0 {
		batch = 500
	}
	st := store{db: d}
	var results []ColumnResult
	var failed []string
	for _, c := range Columns {
		res := ColumnResult{Column: c, Unopenable: map[string]int{}}
		var after []string
		for {
			rows, err := st.scan(ctx, c, v.CurrentKeyID(), after, batch)
			if err != nil {
				return results, err
			}
			if len(rows) == 0 {
				break
			}
			after = rows[len(rows)-1].pk
			var todo []sealedRow
			var fresh []string
			for _, r := range rows {
				label := c.Label(r.pk)
				pt, err := v.Open(label, r.sealed)
				if err != nil {
					kid := "invalid"
					var uk *vault.UnknownKeyError
					if errors.As(err, &uk) {
						kid = uk.KeyID
					}
					res.Unopenable[kid]++
					continue
				}
				todo = append(todo, r)
				fresh = append(fresh, v.Seal(label, pt))
			}
			if len(todo) > 0 {
				n, err := st.replace(ctx, c, todo, fresh)
				if err != nil {
					return results, err
				}
				res.Resealed += n
			}
			if len(rows) < batch {
				break
			}
		}
		if len(res.Unopenable) > 0 {
			failed = append(failed, fmt.Sprintf("%s: %s", c.Name(), formatCounts(res.Unopenable)))
		}
		results = append(results, res)
		if progress != nil {
			progress(res)
		}
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("%w: rows left as they were (%s); keep their keys in the ring", ErrKeyMissing, strings.Join(failed, "; "))
	}
	return results, nil
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d under %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
