package cardnet

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardspec"
)

// Files of a data directory (Config.DataDir). The simulator's state lives
// in a snapshot written atomically (temporary file, fsync, rename) and a
// journal of JSON lines appended after every message that changed
// anything; every CompactEvery records the snapshot is rewritten and the
// journal emptied. Settlement days that left memory are one file each.
//
// No card number is written in the clear: cards and messages are keyed by
// the HMAC the engine already uses in memory, under a key kept beside them
// with mode 0600 (without it the state could not be matched to cards again
// after a restart); settlement lines carry the masked PAN only.
const (
	keyFile        = "cardnet.key"
	snapshotFile   = "state.json"
	journalFile    = "journal.jsonl"
	settlementGlob = "settlement-*.json"
	stateVersion   = 1
)

// Defaults of the memory bounds.
const (
	// DefaultMaxMessages is how many decided messages stay in memory for
	// repeats, completions, reversals and referenced refunds; older ones
	// are forgotten (a repeat of one is then decided as new, a reference
	// to one is "original not found"), as a real network only matches
	// within a window.
	DefaultMaxMessages = 50_000
	// DefaultSettlementDays is how many UTC days of settlement lines stay
	// in memory; older days are written to the data directory (or, with
	// none, dropped).
	DefaultSettlementDays = 3
	// DefaultCompactEvery is how many journal records trigger a snapshot.
	DefaultCompactEvery = 10_000
)

type keyJSON struct {
	MTI  string `json:"mti"`
	STAN string `json:"stan"`
	RRN  string `json:"rrn"`
}

func toKeyJSON(k msgKey) keyJSON { return keyJSON{k.mti, k.stan, k.rrn} }
func (k keyJSON) key() msgKey    { return msgKey{k.MTI, k.STAN, k.RRN} }
func fpHex(f fingerprint) string { return hex.EncodeToString(f[:]) }
func emptyFP(f fingerprint) bool { return f == fingerprint{} }

func parseFP(s string) fingerprint {
	var f fingerprint
	b, _ := hex.DecodeString(s)
	copy(f[:], b)
	return f
}

// refOf is the key of a linked message; nil for none.
func refOf(t *txn) *keyJSON {
	if t == nil {
		return nil
	}
	k := toKeyJSON(t.key)
	return &k
}

// txnJSON is a txn on disk; links to other messages are their keys.
type txnJSON struct {
	Key       keyJSON   `json:"key"`
	Digest    string    `json:"digest"`
	Kind      txnKind   `json:"kind"`
	Status    txnStatus `json:"status"`
	Card      string    `json:"card,omitempty"`
	Amount    int64     `json:"amount,omitempty"`
	Held      int64     `json:"held,omitempty"`
	Refunded  int64     `json:"refunded,omitempty"`
	Completed *keyJSON  `json:"completed,omitempty"`
	Orig      *keyJSON  `json:"orig,omitempty"`
	Silent    bool      `json:"silent,omitempty"`
	Resp      Response  `json:"resp"`
}

// cardJSON is a card's open-to-buy use; the rest follows from the table.
type cardJSON struct {
	Card    string `json:"card"`
	Network string `json:"network"`
	Used    int64  `json:"used"`
}

type lineJSON struct {
	Day  string `json:"day"`
	Line Line   `json:"line"`
}

// record is one journal line: the state a message left, as upserts.
type record struct {
	Txns    []txnJSON  `json:"txns,omitempty"`
	Cards   []cardJSON `json:"cards,omitempty"`
	Lines   []lineJSON `json:"lines,omitempty"`
	TombAdd []keyJSON  `json:"tomb_add,omitempty"`
	TombDel []keyJSON  `json:"tomb_del,omitempty"`
}

type snapshot struct {
	Version int               `json:"version"`
	Txns    []txnJSON         `json:"txns"`
	Cards   []cardJSON        `json:"cards"`
	Days    map[string][]Line `json:"days"`
	Tombs   []keyJSON         `json:"tombstones"`
}

// store is the engine's data directory. Its methods run under e.mu.
type store struct {
	dir     string
	journal *os.File
	w       *bufio.Writer
	records int
	every   int
}

// loadKey reads the HMAC key of the directory, making it on first use.
func loadKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, keyFile)
	b, err := os.ReadFile(path) //nolint:gosec // a file of the simulator in its own data dir (operator-chosen -data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("cardnet: key: %w", err)
		}
		if err := writeAtomic(path, []byte(hex.EncodeToString(key)+"\n")); err != nil {
			return nil, err
		}
		return key, nil
	case err != nil:
		return nil, fmt.Errorf("cardnet: key: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("cardnet: key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("cardnet: key file %s is not 32 bytes of hex", path)
	}
	return key, nil
}

// writeAtomic writes path as a 0600 file through a temporary file, fsync
// and rename, so a crash leaves the old file or the new one, never half.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("cardnet: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("cardnet: write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // a file of the simulator in its own data dir (operator-chosen -data)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// openStore prepares dir and loads its state into e. Called from Open
// before the engine is shared.
func (e *Engine) openStore(dir string, every int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cardnet: data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { //nolint:gosec // a directory: 0700 is owner-only
		return fmt.Errorf("cardnet: data dir: %w", err)
	}
	key, err := loadKey(dir)
	if err != nil {
		return err
	}
	e.panKey = key
	e.known = make(map[fingerprint]cardRow, len(testCards))
	for _, r := range testCards {
		e.known[e.fingerprint(r.pan)] = r
	}
	if b, err := os.ReadFile(filepath.Join(dir, snapshotFile)); err == nil { //nolint:gosec // a file of the simulator in its own data dir (operator-chosen -data)
		var s snapshot
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("cardnet: snapshot: %w", err)
		}
		if s.Version != stateVersion {
			return fmt.Errorf("cardnet: snapshot version %d, want %d", s.Version, stateVersion)
		}
		e.apply(record{Txns: s.Txns, Cards: s.Cards, TombAdd: s.Tombs})
		for day, lines := range s.Days {
			for _, l := range lines {
				e.addLine(day, l)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cardnet: snapshot: %w", err)
	}
	jpath := filepath.Join(dir, journalFile)
	if f, err := os.Open(jpath); err == nil { //nolint:gosec // a file of the simulator in its own data dir (operator-chosen -data)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<24)
		for sc.Scan() {
			var r record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				// A torn last line from a crash: what follows it was
				// never acknowledged as durable.
				break
			}
			e.apply(r)
		}
		_ = f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cardnet: journal: %w", err)
	}
	e.store = &store{dir: dir, every: every}
	e.trim()
	// Start from a fresh snapshot and an empty journal.
	return e.compact()
}

// apply upserts a record's state into the engine. Links are resolved once
// every message of the record is in: an authorisation links forward to its
// completion, which may come later in the same record or snapshot.
func (e *Engine) apply(r record) {
	for _, j := range r.Txns {
		k := j.Key.key()
		t, ok := e.msgs[k]
		if !ok {
			t = &txn{key: k}
			e.remember(t)
		}
		t.digest = parseFP(j.Digest)
		t.kind, t.status, t.card = j.Kind, j.Status, parseFP(j.Card)
		t.amount, t.held, t.refunded, t.silent, t.resp = j.Amount, j.Held, j.Refunded, j.Silent, j.Resp
	}
	for _, j := range r.Txns {
		t := e.msgs[j.Key.key()]
		t.completed, t.orig = nil, nil
		if j.Completed != nil {
			t.completed = e.msgs[j.Completed.key()]
		}
		if j.Orig != nil {
			t.orig = e.msgs[j.Orig.key()]
		}
	}
	for _, c := range r.Cards {
		f := parseFP(c.Card)
		row, ok := e.known[f]
		if !ok {
			n, err := cardspec.ParseNetwork(c.Network)
			if err != nil {
				continue
			}
			row = defaultProfile(n)
		}
		st := e.cardState(f, row)
		st.used = c.Used
	}
	for _, l := range r.Lines {
		e.addLine(l.Day, l.Line)
	}
	for _, k := range r.TombAdd {
		e.tombstones[k.key()] = true
	}
	for _, k := range r.TombDel {
		delete(e.tombstones, k.key())
	}
}

// addLine restores a settlement line read from disk.
func (e *Engine) addLine(day string, l Line) {
	e.settled[day] = append(e.settled[day], l)
}

func (t *txn) toJSON() txnJSON {
	j := txnJSON{Key: toKeyJSON(t.key), Digest: fpHex(t.digest), Kind: t.kind, Status: t.status,
		Amount: t.amount, Held: t.held, Refunded: t.refunded, Silent: t.silent, Resp: t.resp,
		Completed: refOf(t.completed), Orig: refOf(t.orig)}
	if !emptyFP(t.card) {
		j.Card = fpHex(t.card)
	}
	return j
}

func (e *Engine) cardJSON(f fingerprint) (cardJSON, bool) {
	c, ok := e.cards[f]
	if !ok {
		return cardJSON{}, false
	}
	return cardJSON{Card: fpHex(f), Network: c.row.network.String(), Used: c.used}, true
}

// persist appends what the last decision changed to the journal (e.mu
// held). A failure is logged: the answer was already decided, and the
// next snapshot rewrites the whole state.
func (e *Engine) persist() {
	if e.store == nil {
		e.dirty = dirtySet{}
		return
	}
	d := e.dirty
	e.dirty = dirtySet{}
	if len(d.txns) == 0 && len(d.cards) == 0 && len(d.lines) == 0 && len(d.tombAdd) == 0 && len(d.tombDel) == 0 {
		return
	}
	var r record
	for _, t := range d.txns {
		r.Txns = append(r.Txns, t.toJSON())
	}
	for _, f := range d.cards {
		if c, ok := e.cardJSON(f); ok {
			r.Cards = append(r.Cards, c)
		}
	}
	r.Lines, r.TombAdd, r.TombDel = d.lines, d.tombAdd, d.tombDel
	if err := e.store.append(r); err != nil {
		e.log.Error("cardnet journal write failed", "err", err)
	}
	if e.store.records >= e.store.every {
		if err := e.compact(); err != nil {
			e.log.Error("cardnet snapshot failed", "err", err)
		}
	}
}

func (s *store) append(r record) error {
	if s.journal == nil {
		f, err := os.OpenFile(filepath.Join(s.dir, journalFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		s.journal, s.w = f, bufio.NewWriter(f)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := s.w.Write(append(b, '\n')); err != nil {
		return err
	}
	s.records++
	// Flushed to the operating system after every message: a crash of the
	// process loses nothing; only a crash of the machine can lose the
	// tail, which is why snapshots are fsynced.
	return s.w.Flush()
}

// compact writes a snapshot of the whole state and empties the journal
// (e.mu held, or before the engine is shared).
func (e *Engine) compact() error {
	s := e.store
	snap := snapshot{Version: stateVersion, Days: map[string][]Line{}}
	for _, k := range e.order {
		if t, ok := e.msgs[k]; ok && t.key == k {
			snap.Txns = append(snap.Txns, t.toJSON())
		}
	}
	for f := range e.cards {
		if c, ok := e.cardJSON(f); ok {
			snap.Cards = append(snap.Cards, c)
		}
	}
	slices.SortFunc(snap.Cards, func(a, b cardJSON) int { return strings.Compare(a.Card, b.Card) })
	for day, lines := range e.settled {
		snap.Days[day] = lines
	}
	for k := range e.tombstones {
		snap.Tombs = append(snap.Tombs, toKeyJSON(k))
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(s.dir, snapshotFile), b); err != nil {
		return err
	}
	if s.journal != nil {
		_ = s.w.Flush()
		_ = s.journal.Close()
		s.journal, s.w = nil, nil
	}
	// The snapshot holds everything the journal did: start it afresh.
	if err := os.WriteFile(filepath.Join(s.dir, journalFile), nil, 0o600); err != nil {
		return err
	}
	s.records = 0
	return nil
}

// archiveDay writes a settlement day that leaves memory to its own file
// (e.mu held).
func (e *Engine) archiveDay(day string, lines []Line) error {
	b, err := json.Marshal(lines)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(e.store.dir, "settlement-"+day+".json"), b)
}

// archivedDay reads a settlement day from the data directory; nil when
// there is none.
func (e *Engine) archivedDay(day string) []Line {
	if e.store == nil {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(e.store.dir, "settlement-"+day+".json")) //nolint:gosec // a file of the simulator in its own data dir (operator-chosen -data)
	if err != nil {
		return nil
	}
	var lines []Line
	if json.Unmarshal(b, &lines) != nil {
		return nil
	}
	return lines
}

// Close writes a final snapshot and closes the journal. An engine without
// a data directory has nothing to close.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.store == nil {
		return nil
	}
	err := e.compact()
	if e.store.journal != nil {
		_ = e.store.journal.Close()
	}
	e.store = nil
	return err
}
