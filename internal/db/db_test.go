package db_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// schema lists table -> sorted column names, through gorm's migrator so the
// same code reads both engines.
func schema(t *testing.T, d *db.DB) map[string][]string {
	t.Helper()
	m := d.Gorm.Migrator()
	tables, err := m.GetTables()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, tb := range tables {
		if strings.HasPrefix(tb, "sqlite_") {
			continue
		}
		cols, err := m.ColumnTypes(tb)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cols {
			names = append(names, c.Name())
		}
		sort.Strings(names)
		out[tb] = names
	}
	return out
}

func TestMigrationsGiveBothEnginesTheSameSchema(t *testing.T) {
	emb := testenv.Embedded(t)
	got := schema(t, emb.DB)
	if len(got) < 5 {
		t.Fatalf("embedded schema has only %d tables: %v", len(got), got)
	}
	if !testenv.HasReal() {
		t.Log("INBOUND_TEST_DATABASE_URL not set: compared nothing against PostgreSQL")
		return
	}
	pg := testenv.Real(t)
	if diff := cmp.Diff(got, schema(t, pg.DB)); diff != "" {
		t.Fatalf("schemas differ (-sqlite +postgres):\n%s", diff)
	}
}

func TestMigrateIsIdempotentAndRecorded(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		again, err := b.DB.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 0 {
			t.Fatalf("second migrate applied %v", again)
		}
		all, _ := db.Migrations()
		applied, err := b.DB.Applied(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != len(all) {
			t.Fatalf("applied %v, have %d migrations", applied, len(all))
		}
	})
}

func TestAuditLogRefusesUpdateAndDelete(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		g := b.DB.Gorm
		if err := g.Exec(`INSERT INTO audit_log (id, actor_id, actor_role, action, target, reason, request_id, created_at)
			VALUES ('aud_1', 'stf_1', 'agent', 'x', 'y', 'z', 'req_1', CURRENT_TIMESTAMP)`).Error; err != nil {
			t.Fatal(err)
		}
		if err := g.Exec(`UPDATE audit_log SET reason = 'changed'`).Error; err == nil {
			t.Fatal("update of audit_log succeeded")
		}
		if err := g.Exec(`DELETE FROM audit_log`).Error; err == nil {
			t.Fatal("delete from audit_log succeeded")
		}
		var n int64
		g.Raw(`SELECT count(*) FROM audit_log WHERE reason = 'z'`).Scan(&n)
		if n != 1 {
			t.Fatalf("audit rows = %d", n)
		}
	})
}

type counter struct {
	Name  string `gorm:"primaryKey"`
	Value int64
}

func TestTransactRetriesConflictsAndLosesNoUpdate(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		if err := b.DB.Gorm.Exec(`CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)`).Error; err != nil {
			t.Fatal(err)
		}
		b.DB.Gorm.Exec(`INSERT INTO counters VALUES ('c', 0)`)
		// Four writers on one row: enough to conflict on every round, few
		// enough that no transaction loses all its attempts to the others
		// (eight writers under -race on a loaded machine sometimes did).
		const workers, each = 4, 20
		var wg sync.WaitGroup
		var failures atomic.Int64
		for range workers {
			wg.Go(func() {
				for range each {
					err := b.DB.Transact(ctx, func(tx *gorm.DB) error {
						if b.DB.Dialect == db.Postgres {
							// Serializable read-modify-write: concurrent
							// transactions fail with 40001 and are retried.
							if err := tx.Exec("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE").Error; err != nil {
								return err
							}
						}
						var c counter
						if err := tx.Table("counters").Where("name = ?", "c").Take(&c).Error; err != nil {
							return err
						}
						return tx.Table("counters").Where("name = ?", "c").Update("value", c.Value+1).Error
					})
					if err != nil {
						failures.Add(1)
						t.Errorf("transact: %v", err)
					}
				}
			})
		}
		wg.Wait()
		var c counter
		b.DB.Gorm.Table("counters").Where("name = ?", "c").Take(&c)
		if c.Value != workers*each-failures.Load() || failures.Load() != 0 {
			t.Fatalf("counter = %d, failures %d, want %d", c.Value, failures.Load(), workers*each)
		}
	})
}

func TestTransactDoesNotRetryOrdinaryErrors(t *testing.T) {
	b := testenv.Embedded(t)
	calls := 0
	boom := errors.New("boom")
	err := b.DB.Transact(context.Background(), func(tx *gorm.DB) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// TestLegacyAuditSnapshotsAreRedacted: audit records written before
// migration 0811 held full JSON copies of visitors. The migration replaces
// them with the id only and leaves the table append-only again. (The
// migration is re-applied here to a row written as the old code did.)
func TestLegacyAuditSnapshotsAreRedacted(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		g := b.DB.Gorm
		legacy := `{"Visitor":{"ID":"vis_1","Surname":"ERIKSSON","DateOfBirth":"1974-08-12","Email":"anna@example.com"}}`
		if err := g.Exec(`INSERT INTO audit_log (id, actor_id, actor_role, action, target, reason, request_id, before_state, after_state, created_at)
			VALUES ('aud_legacy', 'stf_1', 'agent', 'review.approve', 'rev_1', 'ok', 'req_1', ?, ?, CURRENT_TIMESTAMP)`, legacy, legacy).Error; err != nil {
			t.Fatal(err)
		}
		if err := g.Exec("DELETE FROM schema_migrations WHERE version = 811").Error; err != nil {
			t.Fatal(err)
		}
		if applied, err := b.DB.Migrate(ctx); err != nil || len(applied) != 1 || applied[0] != 811 {
			t.Fatalf("re-apply 0811: %v %v", applied, err)
		}
		var row struct{ BeforeState, AfterState string }
		if err := g.Raw("SELECT before_state, after_state FROM audit_log WHERE id = 'aud_legacy'").Scan(&row).Error; err != nil {
			t.Fatal(err)
		}
		want := `{"id":"rev_1","legacy_redacted":true}`
		if row.AfterState != want || row.BeforeState != want {
			t.Fatalf("legacy row after 0811: %+v", row)
		}
		if err := g.Exec("UPDATE audit_log SET reason = 'x' WHERE id = 'aud_legacy'").Error; err == nil {
			t.Fatal("audit_log accepts updates after 0811")
		}
	})
}

// TestEmbeddedFilesArePrivate opens the embedded database in a data dir
// that already exists with mode 0755, under umask 022, writes to it, and
// checks the dir is 0700 and the database, -wal and -shm files 0600.
func TestEmbeddedFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil { //nolint:gosec // deliberately too wide: Open must narrow it to 0700
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := db.Open(ctx, db.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v %v", fi.Mode(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		seen[e.Name()] = true
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	for _, want := range []string{"inbound.db", "inbound.db-wal", "inbound.db-shm"} {
		if !seen[want] {
			t.Errorf("%s not found among %v", want, seen)
		}
	}
}

// TestConcurrentMigrationsApplyEachOnceAndLeaveNoLock starts four
// "replicas" migrating one empty database at once, directly and, when
// INBOUND_TEST_PGBOUNCER_URL is set, through PgBouncer in transaction mode:
// each migration is applied once, none fails, and no advisory lock stays
// held afterwards (a session-level lock taken through a transaction pooler
// can be left on a server connection and block the next migration for
// ever).
func TestConcurrentMigrationsApplyEachOnceAndLeaveNoLock(t *testing.T) {
	admin := os.Getenv(testenv.DatabaseURLVar)
	if admin == "" {
		t.Skip("INBOUND_TEST_DATABASE_URL not set: PostgreSQL only (SQLite has one writer)")
	}
	vias := map[string]string{"postgres": admin}
	if b := os.Getenv(testenv.PgBouncerURLVar); b != "" {
		vias["pgbouncer"] = b
	}
	all, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for name, via := range vias {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			u := testenv.EmptyPostgres(t, admin, via, name)
			var (
				wg      sync.WaitGroup
				applied atomic.Int64
			)
			// Other clients' short transactions keep the pooler's server
			// connections changing hands while the migrations run.
			noise, err := db.Open(ctx, db.Options{URL: u, MaxOpenConns: 24})
			if err != nil {
				t.Fatal(err)
			}
			defer noise.Close()
			stop := make(chan struct{})
			var noiseWG sync.WaitGroup
			for range 24 {
				noiseWG.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						_ = noise.Gorm.Exec("SELECT pg_sleep(0.002)").Error
					}
				})
			}
			for range 4 {
				d, err := db.Open(ctx, db.Options{URL: u, MaxOpenConns: 4})
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				wg.Go(func() {
					done, err := d.Migrate(ctx)
					if err != nil {
						t.Error(err)
					}
					applied.Add(int64(len(done)))
				})
			}
			wg.Wait()
			close(stop)
			noiseWG.Wait()
			if applied.Load() != int64(len(all)) {
				t.Fatalf("%d migrations applied in all, want %d (each once)", applied.Load(), len(all))
			}
			check, err := db.Open(ctx, db.Options{URL: u, MaxOpenConns: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer check.Close()
			var locks int64
			if err := check.Gorm.Raw("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&locks).Error; err != nil {
				t.Fatal(err)
			}
			if locks != 0 {
				t.Fatalf("%d advisory lock(s) still held after the migrations", locks)
			}
		})
	}
}
