// Package kyc onboards foreign visitors from their travel document: it reads
// the machine readable zone (ICAO 9303 TD1, TD2 and TD3), applies the
// document and person rules (expiry, minimum age, stateless and refugee
// codes, ambiguous names), screens the name against a sanctions list in OFAC
// format, and keeps visitors, their history and the support staff's review
// queue. It also owns the one name normaliser and matcher of the project, so
// a card holder name is compared with the passport name exactly as the
// sanctions screening compares names.
//
// The package is plain Go: the HTTP layer calls Service and maps the
// sentinel errors below; storage sits behind the Store interface, whose gorm
// implementation lives in store.go. A passport number is only ever kept
// sealed by the vault, with a keyed index for duplicate detection and staff
// look-ups; the raw MRZ is never stored and never logged.
package kyc
