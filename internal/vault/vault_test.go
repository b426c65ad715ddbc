package vault

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpen(t *testing.T) {
	v, err := New(key(1))
	if err != nil {
		t.Fatal(err)
	}
	sealed := v.Seal("pan", []byte("4242424242424242"))
	if strings.Contains(sealed, "4242") {
		t.Fatal("plaintext visible in ciphertext")
	}
	if sealed == v.Seal("pan", []byte("4242424242424242")) {
		t.Fatal("sealing is deterministic: nonce reuse")
	}
	got, err := v.Open("pan", sealed)
	if err != nil || string(got) != "4242424242424242" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := v.Open("passport", sealed); !errors.Is(err, ErrBadCiphertext) {
		t.Fatalf("opened under another label: %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := v.Open("pan", tampered); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
}

func TestRotationKeepsOldCiphertextsAndIndexes(t *testing.T) {
	old, _ := New(key(1))
	sealed := old.Seal("passport", []byte("L898902C3"))
	idx := old.Index("passport", "UTO", "L898902C3")

	rotated, err := New(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	got, err := rotated.Open("passport", sealed)
	if err != nil || string(got) != "L898902C3" {
		t.Fatalf("old ciphertext after rotation: %q %v", got, err)
	}
	if !strings.HasPrefix(rotated.Seal("x", nil), KeyID(key(2))+":") {
		t.Fatal("new ciphertexts not under the new key")
	}
	if rotated.Index("passport", "UTO", "L898902C3") != idx {
		t.Fatal("index changed across rotation: lookups would miss")
	}
	fresh, _ := New(key(2))
	if _, err := fresh.Open("passport", sealed); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("opened without the old key: %v", err)
	}
}

func TestIndex(t *testing.T) {
	v, _ := New(key(1))
	a := v.Index("passport", "UTO", "L898902C3")
	if a != v.Index("passport", "UTO", "L898902C3") {
		t.Fatal("index not stable")
	}
	// Part boundaries matter: ("UT", "OL8...") is another value.
	if a == v.Index("passport", "UT", "OL898902C3") || a == v.Index("pan", "UTO", "L898902C3") {
		t.Fatal("index collides across parts or labels")
	}
	w, _ := New(key(3))
	if a == w.Index("passport", "UTO", "L898902C3") {
		t.Fatal("index does not depend on the key")
	}
}

func TestParseKey(t *testing.T) {
	if _, err := ParseKey(GenerateKey()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "short", "bm90LWJhc2U2NC0zMi1ieXRlcw=="} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// With an explicit index key, indexes do not depend on the encryption
// keys at all: dropping the oldest key changes nothing.
func TestNewKeyringIndexesUnderItsOwnKey(t *testing.T) {
	ik, err := DeriveIndexKey(key(1))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewKeyring(ik, key(1))
	b, err := NewKeyring(ik, key(3), key(2))
	if err != nil {
		t.Fatal(err)
	}
	if a.Index("pan", "4242") != b.Index("pan", "4242") {
		t.Fatal("index depends on the encryption keys")
	}
	legacy, _ := New(key(1))
	if a.Index("pan", "4242") != legacy.Index("pan", "4242") {
		t.Fatal("DeriveIndexKey differs from what New derives")
	}
	if b.CurrentKeyID() != KeyID(key(3)) || !b.HasKey(KeyID(key(2))) || b.HasKey(KeyID(key(1))) {
		t.Fatalf("keyring %v", b.KeyIDs())
	}
	if _, err := NewKeyring(ik[:16], key(1)); !errors.Is(err, ErrBadKey) {
		t.Fatalf("short index key: %v", err)
	}
	_, err = b.Open("pan", a.Seal("pan", []byte("x")))
	var uk *UnknownKeyError
	if !errors.Is(err, ErrUnknownKey) || !errors.As(err, &uk) || uk.KeyID != KeyID(key(1)) {
		t.Fatalf("unknown key: %v", err)
	}
	if SealedKeyID(a.Seal("pan", nil)) != KeyID(key(1)) || SealedKeyID("garbage") != "" {
		t.Fatal("SealedKeyID")
	}
}
