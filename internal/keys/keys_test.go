package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/kyc"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// Every column of the schema that holds vault.Seal output is in Columns,
// so the re-seal misses none: *_sealed columns of the migrations, and the
// sealed response bodies.
func TestColumnsListEverySealedColumn(t *testing.T) {
	listed := map[string]bool{}
	for _, c := range Columns {
		listed[c.Name()] = true
	}
	create := regexp.MustCompile(`(?is)CREATE TABLE (\w+) \((.*?)\n\)`)
	alter := regexp.MustCompile(`(?i)ALTER TABLE (\w+) ADD COLUMN (\w+_sealed)\b`)
	col := regexp.MustCompile(`(?m)^\s*(\w+_sealed)\s`)
	var found []string
	files, _ := filepath.Glob("../db/migrations/*.sql")
	if len(files) == 0 {
		t.Fatal("no migrations found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range create.FindAllStringSubmatch(string(b), -1) {
			for _, c := range col.FindAllStringSubmatch(m[2], -1) {
				found = append(found, m[1]+"."+c[1])
			}
		}
		for _, m := range alter.FindAllStringSubmatch(string(b), -1) {
			found = append(found, m[1]+"."+m[2])
		}
	}
	found = append(found, "idempotency_keys.response_body", "vault_keys.sealed")
	for _, f := range found {
		if !listed[f] {
			t.Errorf("sealed column %s is not in keys.Columns: the re-seal would leave it under the old key", f)
		}
	}
	if len(found) < 5 {
		t.Fatalf("found only %v", found)
	}
}

// Every package that seals something is one whose columns are listed: a
// new caller of Seal must add its column to Columns (and this list).
func TestEverySealCallerIsKnown(t *testing.T) {
	known := []string{"gateway/binder.go", "kyc/service.go", "internal/webhook/service.go", "internal/idempotency/store.go", "internal/keys/keys.go",
		// inbound seed writes the same sealed columns as kyc (passport),
		// gateway (PAN) and webhook (endpoint secret).
		"internal/seed/gen.go", "internal/seed/setup.go"}
	call := regexp.MustCompile(`\.Seal\(`)
	var callers []string
	root := "../.."
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p) //nolint:gosec // walks our own source tree in a test
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if call.Match(b) && rel != "internal/vault/vault.go" && !strings.HasPrefix(rel, "gateway/cardnet/") {
			callers = append(callers, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range callers {
		if !slices.Contains(known, c) {
			t.Errorf("%s calls Seal: list its sealed column in keys.Columns, then add the file here", c)
		}
	}
}

func TestParsePrevious(t *testing.T) {
	k1, k2 := vault.GenerateKey(), vault.GenerateKey()
	got, err := ParsePrevious(" " + k1 + " , " + k2 + ",")
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %d", err, len(got))
	}
	if got, err := ParsePrevious(""); err != nil || got != nil {
		t.Fatalf("empty: %v %v", got, err)
	}
	_, err = ParsePrevious(k1 + ",bm90IGEga2V5")
	if !errors.Is(err, ErrBadPrevious) || strings.Contains(err.Error(), k1) {
		t.Fatalf("bad entry: %v", err)
	}
}

// The index key is stored once and survives rotation: indexes computed
// under K1 match those under K2 once K1 is gone; a key the database never
// saw is refused.
func TestOpenKeepsTheIndexKeyAcrossRotation(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		v1, err := Open(ctx, b.DB, key(1), nil)
		if err != nil {
			t.Fatal(err)
		}
		legacy, _ := vault.New(key(1))
		if v1.Index("passport", "UTO", "X1") == legacy.Index("passport", "UTO", "X1") {
			t.Fatal("a new database's index key is derived from the master key, not random")
		}
		if again, err := Open(ctx, b.DB, key(1), nil); err != nil || again.Index("passport", "UTO", "X1") != v1.Index("passport", "UTO", "X1") {
			t.Fatalf("second start got another index key: %v", err)
		}
		v2, err := Open(ctx, b.DB, key(2), [][]byte{key(1)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Reseal(ctx, b.DB, v2, 10, nil); err != nil {
			t.Fatal(err)
		}
		v3, err := Open(ctx, b.DB, key(2), nil)
		if err != nil {
			t.Fatalf("after reseal, without K1: %v", err)
		}
		want := v1.Index("passport", "UTO", "X1")
		if v2.Index("passport", "UTO", "X1") != want || v3.Index("passport", "UTO", "X1") != want {
			t.Fatal("index changed across rotation")
		}
		if _, err := Open(ctx, b.DB, key(9), nil); !errors.Is(err, ErrKeyMissing) || !strings.Contains(err.Error(), vault.KeyID(key(2))) {
			t.Fatalf("foreign key: %v", err)
		}
		if _, err := Open(ctx, b.DB, key(2), [][]byte{key(2)}); !errors.Is(err, ErrBadPrevious) {
			t.Fatalf("current key listed as previous: %v", err)
		}
	})
}

// saveRecords stores n idempotency records sealed under v.
func saveRecords(t *testing.T, b testenv.Backend, v *vault.Vault, prefix string, n int) {
	t.Helper()
	st := idempotency.NewStore(b.DB, v)
	now := time.Now().UTC()
	for i := range n {
		if err := st.Save(context.Background(), idempotency.Record{Scope: "ptn_x", Key: fmt.Sprintf("%s-%03d", prefix, i), Method: "POST", Path: "/v1/x",
			Fingerprint: "f", Status: 201, Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
}

func resealedOf(t *testing.T, rs []ColumnResult, name string) ColumnResult {
	t.Helper()
	for _, r := range rs {
		if r.Column.Name() == name {
			return r
		}
	}
	t.Fatalf("no result for %s", name)
	return ColumnResult{}
}

// Reseal works in batches, touches only what is not under the current key,
// is idempotent, leaves rows it cannot open alone and says so, and the
// records read back through their owner afterwards.
func TestResealBatchesIdempotentAndReportsUnopenable(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		v1, err := Open(ctx, b.DB, key(1), nil)
		if err != nil {
			t.Fatal(err)
		}
		saveRecords(t, b, v1, "old", 7)
		v2, err := Open(ctx, b.DB, key(2), [][]byte{key(1)})
		if err != nil {
			t.Fatal(err)
		}
		saveRecords(t, b, v2, "new", 3)
		// Sealed under a key nobody has any more.
		lost, _ := vault.New(key(7))
		saveRecords(t, b, lost, "lost", 2)

		rs, err := Reseal(ctx, b.DB, v2, 3, nil)
		if !errors.Is(err, ErrKeyMissing) || !strings.Contains(err.Error(), "2 under "+vault.KeyID(key(7))) {
			t.Fatalf("want ErrKeyMissing naming the lost key id, got %v", err)
		}
		idem := resealedOf(t, rs, "idempotency_keys.response_body")
		if idem.Resealed != 7 || idem.Unopenable[vault.KeyID(key(7))] != 2 {
			t.Fatalf("resealed %d, unopenable %v", idem.Resealed, idem.Unopenable)
		}
		if r := resealedOf(t, rs, "vault_keys.sealed"); r.Resealed != 1 {
			t.Fatalf("index key resealed %d", r.Resealed)
		}
		// Again: nothing left to do but the unopenable rows.
		rs, _ = Reseal(ctx, b.DB, v2, 3, nil)
		if n := resealedOf(t, rs, "idempotency_keys.response_body").Resealed; n != 0 {
			t.Fatalf("second run resealed %d", n)
		}
		sts, err := Status(ctx, b.DB)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			if st.ByKey[vault.KeyID(key(1))] != 0 {
				t.Fatalf("%s still has rows under K1: %v", st.Column.Name(), st.ByKey)
			}
		}
		// Without K1, every record reads through the idempotency store.
		v3, err := Open(ctx, b.DB, key(2), nil)
		if err != nil {
			t.Fatal(err)
		}
		st := idempotency.NewStore(b.DB, v3)
		for i := range 7 {
			rec, err := st.Get(ctx, "ptn_x", fmt.Sprintf("old-%03d", i), time.Now())
			if err != nil || rec == nil || string(rec.Body) != fmt.Sprintf(`{"n":%d}`, i) {
				t.Fatalf("record %d after reseal: %v %v", i, rec, err)
			}
		}
		if _, err := st.Get(ctx, "ptn_x", "lost-000", time.Now()); !errors.Is(err, vault.ErrUnknownKey) {
			t.Fatalf("lost record: %v", err)
		}
	})
}

// Check refuses a keyring that lacks the key of the oldest or newest rows.
func TestCheckFindsRowsUnderAMissingKey(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		v1, err := Open(ctx, b.DB, key(1), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(ctx, b.DB, v1, 5); err != nil {
			t.Fatalf("empty database: %v", err)
		}
		saveRecords(t, b, v1, "a", 3)
		if err := Check(ctx, b.DB, v1, 5); err != nil {
			t.Fatalf("all readable: %v", err)
		}
		stranger, _ := vault.New(key(8))
		saveRecords(t, b, stranger, "z", 1)
		err = Check(ctx, b.DB, v1, 5)
		if !errors.Is(err, ErrKeyMissing) || !strings.Contains(err.Error(), "idempotency_keys.response_body") || !strings.Contains(err.Error(), vault.KeyID(key(8))) {
			t.Fatalf("want ErrKeyMissing naming the column and key id, got %v", err)
		}
	})
}

// upgradeFixture stores, the way earlier versions did (vault.New with one
// key), a visitor and a card: sealed values and their indexes.
func upgradeFixture(t *testing.T, b testenv.Backend, legacy *vault.Vault) (state, number, pan string) {
	t.Helper()
	ctx := context.Background()
	p, _, err := auth.NewService(auth.NewStore(b.DB)).CreatePartner(ctx, ids.New(ids.Partner), "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	svc := kyc.NewService(kyc.NewStore(b.DB, kyc.Hooks{}), kyc.BuiltinSanctions(), legacy, kyc.Options{})
	number = "UPGRADE01"
	pad := func(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }
	cd := func(s string) string { return string(kyc.CheckDigit(s)) }
	doc, opt := pad(number, 9), pad("", 14)
	docPart, dobPart, expPart, optPart := doc+cd(doc), "740812"+cd("740812"), "340415"+cd("340415"), opt+cd(opt)
	lines := []string{pad("P<UTOERIKSSON<<ANNA<MARIA", 44),
		docPart + "UTO" + dobPart + "F" + expPart + optPart + cd(docPart+dobPart+expPart+optPart)}
	v, err := svc.Register(ctx, p.ID, kyc.Application{MRZ: lines})
	if err != nil {
		t.Fatal(err)
	}
	pan = "4242424242424242"
	now := time.Now().UTC()
	if err := b.DB.Gorm.Exec(`INSERT INTO cards (id, partner_id, visitor_id, status, network, bin, last4, exp_month, exp_year, pan_sealed, fingerprint, created_at, updated_at)
		VALUES (?, ?, ?, 'verified', 'visa', '424242', '4242', 12, 2030, ?, ?, ?, ?)`,
		ids.New(ids.Card), p.ID, v.ID, legacy.Seal("pan", []byte(pan)), legacy.Index("pan", pan), now, now).Error; err != nil {
		t.Fatal(err)
	}
	return "UTO", number, pan
}

// A database written by an earlier version (index key derived from its one
// master key, no stored index key) keeps its indexes whichever way the
// first start of this version lists that key: alone, as current with a new
// one as previous, or as previous of a new current. A ring without it is
// refused.
func TestFirstStartFindsTheKeyOfTheStoredIndexes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		legacy, _ := vault.New(key(1))
		state, number, pan := upgradeFixture(t, b, legacy)
		for _, ring := range []struct {
			name     string
			current  []byte
			previous [][]byte
		}{
			{"alone", key(1), nil},
			{"rotated", key(2), [][]byte{key(1)}},
			{"introducing", key(1), [][]byte{key(2)}},
			{"several", key(3), [][]byte{key(1), key(2)}},
		} {
			if err := b.DB.Gorm.Exec(`DELETE FROM vault_keys`).Error; err != nil {
				t.Fatal(err)
			}
			v, err := Open(ctx, b.DB, ring.current, ring.previous)
			if err != nil {
				t.Fatalf("%s: %v", ring.name, err)
			}
			if v.Index("pan", pan) != legacy.Index("pan", pan) || kyc.DocumentIndex(v, state, number) != kyc.DocumentIndex(legacy, state, number) {
				t.Fatalf("%s: indexes differ from the stored ones", ring.name)
			}
		}
		if err := b.DB.Gorm.Exec(`DELETE FROM vault_keys`).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ctx, b.DB, key(4), nil); !errors.Is(err, ErrKeyMissing) || !strings.Contains(err.Error(), vault.KeyID(key(1))) {
			t.Fatalf("a ring without the key of the stored data: %v", err)
		}
		// Opened but indexed under another key (sealed under K4, which the
		// ring holds, yet indexed under K1's derivation): refused too.
		other, _ := vault.New(key(4))
		if err := b.DB.Gorm.Exec(`UPDATE cards SET pan_sealed = ?`, other.Seal("pan", []byte(pan))).Error; err != nil {
			t.Fatal(err)
		}
		if err := b.DB.Gorm.Exec(`UPDATE visitors SET number_sealed = ?`, other.Seal("passport", []byte(number))).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ctx, b.DB, key(4), nil); !errors.Is(err, ErrKeyMissing) || !strings.Contains(err.Error(), "reproduces") {
			t.Fatalf("indexes no key reproduces: %v", err)
		}
	})
}
