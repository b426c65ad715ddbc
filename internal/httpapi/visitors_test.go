package httpapi

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

func (a *api) createVisitor(t *testing.T, key string, mrz []string, extra string) resp {
	t.Helper()
	body := `{"mrz":` + mrzJSON(mrz) + extra + `}`
	return do(t, "POST", a.partner.URL+"/v1/visitors", key, body, "Idempotency-Key", ids.New("test"))
}

func kycOf(t *testing.T, r resp) (status string, reasons string) {
	t.Helper()
	k := r.json(t)["kyc"].(map[string]any)
	var rs []string
	for _, x := range k["reasons"].([]any) {
		rs = append(rs, x.(string))
	}
	return k["status"].(string), strings.Join(rs, ",")
}

func TestVisitorOnboarding(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		anna := td3("UTO", "ERIKSSON", "ANNA MARIA", "L898902C3", "740812", "F", "340415")

		r := a.createVisitor(t, a.partnerKey, anna, `,"phone":"+4915112345678","email":"anna@example.com","entry":{"visa_type":"L","entry_date":"2026-11-20","planned_departure":"2026-12-10"}`)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		v := r.json(t)
		if st, _ := kycOf(t, r); st != "approved" {
			t.Fatalf("status %s: %s", st, r.Body)
		}
		acct, ok := v["account"].(map[string]any)
		if !ok || !strings.HasPrefix(acct["id"].(string), "acct_") || acct["status"] != "active" {
			t.Fatalf("approved visitor without an active account: %s", r.Body)
		}
		doc := v["document"].(map[string]any)
		if doc["number_masked"] == "L898902C3" || !strings.Contains(doc["number_masked"].(string), "*") {
			t.Fatalf("document number not masked: %v", doc)
		}
		if v["name"].(map[string]any)["given_names"] != "ANNA MARIA" || v["date_of_birth"] != "1974-08-12" || v["entry"] == nil {
			t.Fatalf("fields: %s", r.Body)
		}
		id := v["id"].(string)

		if g := do(t, "GET", a.partner.URL+"/v1/visitors/"+id, a.partnerKey, ""); g.Status != 200 || g.json(t)["id"] != id {
			t.Fatalf("get: %d %s", g.Status, g.Body)
		}
		// Another partner sees nothing; its application for the same
		// passport goes to review, and the same partner's second one is 409.
		other, otherKey, _ := a.srv.Auth.CreatePartner(context.Background(), ids.New(ids.Partner), "Other", "")
		_ = other
		if g := do(t, "GET", a.partner.URL+"/v1/visitors/"+id, otherKey, ""); g.Status != 404 || g.errCode(t) != "resource_missing" {
			t.Fatalf("cross-partner get: %d %s", g.Status, g.Body)
		}
		if d := a.createVisitor(t, otherKey, anna, ""); d.Status != 201 || strings.Contains(string(d.Body), id) {
			t.Fatalf("duplicate: %d %s", d.Status, d.Body)
		} else if st, rs := kycOf(t, d); st != "review" || rs != "duplicate_document" {
			t.Fatalf("duplicate: %s", d.Body)
		}
		if d := a.createVisitor(t, a.partnerKey, anna, ""); d.Status != 409 || d.errCode(t) != "duplicate_document" {
			t.Fatalf("same-partner duplicate: %d %s", d.Status, d.Body)
		}

		// Staff lookup through the keyed hash.
		l := do(t, "GET", a.admin.URL+"/admin/v1/visitors?passport_number=L898902C3&issuing_state=UTO", a.supervisor, "")
		if l.Status != 200 || !strings.Contains(string(l.Body), id) {
			t.Fatalf("lookup: %d %s", l.Status, l.Body)
		}
		if l := do(t, "GET", a.admin.URL+"/admin/v1/visitors?passport_number=L898902C3", a.supervisor, ""); l.Status != 400 || l.errParam(t) != "issuing_state" {
			t.Fatalf("lookup without state: %d %s", l.Status, l.Body)
		}
		if g := do(t, "GET", a.admin.URL+"/admin/v1/visitors/"+id, a.staff(auth.Viewer), ""); g.Status != 200 || g.json(t)["partner"] == "" {
			t.Fatalf("admin get: %d %s", g.Status, g.Body)
		}

		// Neither the passport number nor the MRZ is stored or logged in plain text.
		if strings.Contains(a.logs.String(), "L898902C3") || strings.Contains(a.logs.String(), "ERIKSSON<<") {
			t.Fatal("passport data in logs")
		}
		assertNotStored(t, b, "L898902C3", anna[1])

		var events []string
		b.DB.Gorm.Raw("SELECT type FROM events ORDER BY id").Scan(&events)
		if strings.Join(events, ",") != "visitor.approved,visitor.review" {
			t.Fatalf("events %v", events)
		}
	})
}

// assertNotStored scans every text column of every table for the values.
func assertNotStored(t *testing.T, b testenv.Backend, values ...string) {
	t.Helper()
	tables, err := b.DB.Gorm.Migrator().GetTables()
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		var rows []map[string]any
		if err := b.DB.Gorm.Table(tb).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			for col, v := range r {
				s := fmt.Sprint(v)
				if bs, ok := v.([]byte); ok {
					s = string(bs)
				}
				for _, secret := range values {
					if strings.Contains(s, secret) {
						t.Errorf("%s.%s holds %q in plain text", tb, col, secret)
					}
				}
			}
		}
	}
}

func TestVisitorOutcomesAndErrors(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		cases := []struct {
			name    string
			mrz     []string
			extra   string
			status  int
			kyc     string
			reasons string
			code    string
			param   string
		}{
			{"icao specimen is expired", []string{"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"}, "", 201, "rejected", "document_expired", "", ""},
			{"underage", td3("UTO", "YOUNG", "TIM", "Y1234567", "150101", "M", "320101"), "", 201, "rejected", "underage", "", ""},
			{"sanctioned", td3("UTO", "DRAKOVIC", "MIRKO", "S7654321", "700303", "M", "320101"), "", 201, "rejected", "sanctions_match", "", ""},
			{"stateless", td3("XXA", "NOMAD", "LEA", "X1112223", "900101", "F", "320101"), "", 201, "review", "stateless_or_refugee", "", ""},
			{"check digit", []string{"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C37UTO7408122F1204159ZE184226B<<<<<10"}, "", 400, "", "", "mrz_check_digit", "mrz.document_number"},
			{"garbage", []string{"hello", "world"}, "", 400, "", "", "mrz_invalid", "mrz"},
			{"one line", []string{"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"}, "", 400, "", "", "parameter_invalid", "mrz"},
			{"bad entry", td3("UTO", "ENTRY", "BAD", "E1234567", "800101", "F", "320101"), `,"entry":{"visa_type":"L","entry_date":"2026-12-20","planned_departure":"2026-12-10"}`, 400, "", "", "parameter_invalid", "entry.planned_departure"},
			{"bad email", td3("UTO", "MAIL", "BAD", "M1234567", "800101", "F", "320101"), `,"email":"not-an-email"`, 400, "", "", "parameter_invalid", "email"},
			{"unknown field", td3("UTO", "FIELD", "BAD", "F1234567", "800101", "F", "320101"), `,"passport":"x"`, 400, "", "", "unknown_field", "passport"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := a.createVisitor(t, a.partnerKey, tc.mrz, tc.extra)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				if tc.status == 201 {
					st, rs := kycOf(t, r)
					if st != tc.kyc || !strings.Contains(rs, tc.reasons) {
						t.Fatalf("kyc %s %s, want %s %s", st, rs, tc.kyc, tc.reasons)
					}
					if (st == "approved") != (r.json(t)["account"] != nil) {
						t.Fatalf("account presence wrong for %s: %s", st, r.Body)
					}
					return
				}
				if r.errCode(t) != tc.code || r.errParam(t) != tc.param {
					t.Fatalf("error %s/%s, want %s/%s: %s", r.errCode(t), r.errParam(t), tc.code, tc.param, r.Body)
				}
			})
		}
		if r := do(t, "POST", a.partner.URL+"/v1/visitors", a.partnerKey, `{"mrz":[]}`); r.Status != 400 || r.errCode(t) != "idempotency_key_missing" {
			t.Fatalf("no idempotency key: %d %s", r.Status, r.Body)
		}
		// A rejected passport frees its document: the visitor may apply again.
		var n int64
		b.DB.Gorm.Raw("SELECT count(*) FROM visitors").Scan(&n)
		if n != 4 {
			t.Fatalf("%d visitors stored; failed requests must write nothing", n)
		}
	})
}

func TestReviewDecisionOpensAccountAndIsAudited(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		r := a.createVisitor(t, a.partnerKey, td3("XXB", "REFUGE", "OMAR", "R9988776", "880101", "M", "320101"), "")
		if st, _ := kycOf(t, r); st != "review" || r.json(t)["account"] != nil {
			t.Fatalf("not in review: %s", r.Body)
		}
		visitorID := r.json(t)["id"].(string)
		l := do(t, "GET", a.admin.URL+"/admin/v1/reviews", a.staff(auth.Viewer), "")
		data := l.json(t)["data"].([]any)
		if len(data) != 1 {
			t.Fatalf("open reviews: %s", l.Body)
		}
		rev := data[0].(map[string]any)
		if rev["visitor"] != visitorID || rev["status"] != "open" {
			t.Fatalf("review %v", rev)
		}
		url := a.admin.URL + "/admin/v1/reviews/" + rev["id"].(string) + "/decision"
		if d := do(t, "POST", url, a.staff(auth.Viewer), `{"decision":"approve","reason":"documents checked"}`); d.Status != 403 {
			t.Fatalf("viewer decided: %d", d.Status)
		}
		agent := a.staff(auth.Agent)
		if d := do(t, "POST", url, agent, `{"decision":"maybe","reason":"x"}`); d.Status != 400 || d.errParam(t) != "decision" {
			t.Fatalf("bad decision: %d %s", d.Status, d.Body)
		}
		d := do(t, "POST", url, agent, `{"decision":"approve","reason":"UNHCR travel document verified"}`, "Idempotency-Key", "decide-1")
		if d.Status != 200 {
			t.Fatalf("decide: %d %s", d.Status, d.Body)
		}
		vis := d.json(t)["visitor"].(map[string]any)
		if vis["kyc"].(map[string]any)["status"] != "approved" || vis["account"] == nil {
			t.Fatalf("approval did not open the account: %s", d.Body)
		}
		if again := do(t, "POST", url, agent, `{"decision":"approve","reason":"UNHCR travel document verified"}`, "Idempotency-Key", "decide-1"); again.Status != 200 || string(again.Body) != string(d.Body) {
			t.Fatalf("replay: %d %s", again.Status, again.Body)
		}
		if twice := do(t, "POST", url, agent, `{"decision":"reject","reason":"changed my mind"}`); twice.Status != 409 || twice.errCode(t) != "invalid_state" {
			t.Fatalf("second decision: %d %s", twice.Status, twice.Body)
		}
		g := do(t, "GET", a.partner.URL+"/v1/visitors/"+visitorID, a.partnerKey, "")
		if g.json(t)["account"] == nil {
			t.Fatal("partner does not see the account")
		}
		au := do(t, "GET", a.admin.URL+"/admin/v1/audit?target="+rev["id"].(string), a.supervisor, "")
		entries := au.json(t)["data"].([]any)
		if len(entries) != 1 || entries[0].(map[string]any)["action"] != "review.approve" || entries[0].(map[string]any)["reason"] != "UNHCR travel document verified" {
			t.Fatalf("audit: %s", au.Body)
		}
		var events []string
		b.DB.Gorm.Raw("SELECT type FROM events ORDER BY id").Scan(&events)
		if strings.Join(events, ",") != "visitor.review,visitor.approved" {
			t.Fatalf("events %v", events)
		}
	})
}

func TestFXRatesAndRateLimit(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b, func(d *Deps) { d.RateLimit = 3 })
		r := do(t, "GET", a.partner.URL+"/v1/fx/rates", a.partnerKey, "")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"currency":"USD"`) || !strings.Contains(string(r.Body), `"mid_rate":"7.1220"`) {
			t.Fatalf("rates: %d %s", r.Status, r.Body)
		}
		limited := 0
		for range 12 {
			r := do(t, "GET", a.partner.URL+"/v1/fx/rates", a.partnerKey, "")
			if r.Status == 429 {
				limited++
				if r.errCode(t) != "rate_limited" || r.Header.Get("Retry-After") == "" {
					t.Fatalf("429 without code or Retry-After: %v %s", r.Header, r.Body)
				}
			}
		}
		if limited == 0 {
			t.Fatal("13 requests at 3/s were never limited")
		}
		// The limit is per partner.
		_, other, _ := a.srv.Auth.CreatePartner(context.Background(), ids.New(ids.Partner), "Other", "")
		if r := do(t, "GET", a.partner.URL+"/v1/fx/rates", other, ""); r.Status != 200 {
			t.Fatalf("other partner limited: %d", r.Status)
		}
	})
}

func TestFreezeAndUnfreeze(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		r := a.createVisitor(t, a.partnerKey, td3("UTO", "FROST", "ELSA", "F7777777", "900101", "F", "320101"), "")
		id := r.json(t)["id"].(string)
		agent := a.staff(auth.Agent)
		url := a.admin.URL + "/admin/v1/visitors/" + id
		if f := do(t, "POST", url+"/freeze", agent, `{}`); f.Status != 400 || f.errParam(t) != "reason" {
			t.Fatalf("freeze without reason: %d %s", f.Status, f.Body)
		}
		if f := do(t, "POST", url+"/freeze", agent, `{"reason":"suspected fraud"}`); f.Status != 200 || f.json(t)["status"] != "frozen" {
			t.Fatalf("freeze: %d %s", f.Status, f.Body)
		}
		if f := do(t, "POST", url+"/freeze", agent, `{"reason":"again"}`); f.Status != 409 || f.errCode(t) != "invalid_state" {
			t.Fatalf("freeze twice: %d %s", f.Status, f.Body)
		}
		if g := do(t, "GET", a.partner.URL+"/v1/visitors/"+id, a.partnerKey, ""); g.json(t)["account"].(map[string]any)["status"] != "frozen" {
			t.Fatalf("partner view: %s", g.Body)
		}
		if f := do(t, "POST", url+"/unfreeze", agent, `{"reason":"cleared"}`); f.Status != 200 || f.json(t)["status"] != "active" {
			t.Fatalf("unfreeze: %d %s", f.Status, f.Body)
		}
		if f := do(t, "POST", a.admin.URL+"/admin/v1/visitors/vis_nope/freeze", agent, `{"reason":"x"}`); f.Status != 404 {
			t.Fatalf("unknown visitor: %d", f.Status)
		}
		var events []string
		b.DB.Gorm.Raw("SELECT type FROM events ORDER BY id").Scan(&events)
		if strings.Join(events, ",") != "visitor.approved,account.frozen,account.unfrozen" {
			t.Fatalf("events %v", events)
		}
		au := do(t, "GET", a.admin.URL+"/admin/v1/audit?target="+id, a.supervisor, "")
		if n := len(au.json(t)["data"].([]any)); n != 2 {
			t.Fatalf("audit records %d, want 2: %s", n, au.Body)
		}
	})
}

// Acceptance: Germany's published passport specimen (issuing state and
// nationality "D<<") onboards, and so do the other ICAO 9303 Part 3 codes
// that are not ISO country codes; stateless and refugee codes go to review.
func TestICAOSpecialCodesOnboard(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		german := []string{"P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<", "C01X00T478D<<6408125F2702283<<<<<<<<<<<<<<<4"}
		r := a.createVisitor(t, a.partnerKey, german, "")
		if r.Status != 201 {
			t.Fatalf("German specimen: %d %s", r.Status, r.Body)
		}
		v := r.json(t)
		if v["nationality"] != "D" || v["document"].(map[string]any)["issuing_state"] != "D" {
			t.Fatalf("German specimen fields: %s", r.Body)
		}
		// The specimen expires on 2027-02-28; until then it is approved.
		if st, rs := kycOf(t, r); time.Now().Before(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)) && st != "approved" {
			t.Fatalf("German specimen: %s %s", st, rs)
		}
		for i, tc := range []struct{ code, status string }{
			{"GBN", "approved"}, {"GBD", "approved"}, {"UNO", "approved"}, {"XOM", "approved"}, {"EUE", "approved"},
			{"RKS", "approved"}, {"XXB", "review"}, {"XXX", "review"},
		} {
			r := a.createVisitor(t, a.partnerKey, td3(tc.code, "HOLDER", "ANNA", fmt.Sprintf("K%07d", i), "800101", "F", "320101"), "")
			if r.Status != 201 {
				t.Fatalf("%s: %d %s", tc.code, r.Status, r.Body)
			}
			if st, rs := kycOf(t, r); st != tc.status {
				t.Fatalf("%s: %s %s, want %s", tc.code, st, rs, tc.status)
			}
		}
	})
}

// The ICAO TD1 specimen with a long document number expired in 1995; read
// as 2095 it would be approved.
func TestDocumentExpiredLastCenturyIsRejected(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		r := a.createVisitor(t, a.partnerKey, []string{"I<UTOD23145890<7349<<<<<<<<<<<", "3407127M9507122UTO<<<<<<<<<<<2", "STEVENSON<<PETER<JOHN<<<<<<<<<"}, "")
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if st, rs := kycOf(t, r); st != "rejected" || rs != "document_expired" {
			t.Fatalf("%s %s: %s", st, rs, r.Body)
		}
		if exp := r.json(t)["document"].(map[string]any)["expires_on"]; exp != "1995-07-12" {
			t.Fatalf("expires_on %v", exp)
		}
	})
}

// A single-name holder written in the secondary identifier
// (P<IND<<FIRST<NAME) is a valid visitor: in review for the ambiguous name,
// and once approved, a card whose holder name shows the given names binds.
func TestSingleNameHolderOnboardsAndBindsACard(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		r := a.createVisitor(t, a.partnerKey, td3("IND", "", "FIRST NAME", "Z1234567", "800101", "M", "320101"), "")
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if st, rs := kycOf(t, r); st != "review" || rs != "name_ambiguous" {
			t.Fatalf("%s %s", st, rs)
		}
		vis := r.json(t)["id"].(string)
		name := r.json(t)["name"].(map[string]any)
		if name["surname"] != "" || name["given_names"] != "FIRST NAME" {
			t.Fatalf("name %v", name)
		}
		l := do(t, "GET", a.admin.URL+"/admin/v1/reviews?status=open", a.supervisor, "")
		rev := l.json(t)["data"].([]any)[0].(map[string]any)["id"].(string)
		if d := post(t, a.admin.URL+"/admin/v1/reviews/"+rev+"/decision", a.staff(auth.Agent), `{"decision":"approve","reason":"single name checked on the passport"}`); d.Status != 200 {
			t.Fatalf("decide: %d %s", d.Status, d.Body)
		}
		url := a.partner.URL + "/v1/visitors/" + vis + "/cards"
		if c := post(t, url, a.partnerKey, cardBody("5555555555554444", "123", "JOHN SMITH")); c.Status != 422 || c.errCode(t) != "holder_name_mismatch" {
			t.Fatalf("wrong holder: %d %s", c.Status, c.Body)
		}
		if c := post(t, url, a.partnerKey, cardBody("4242424242424242", "123", "First Name")); c.Status != 201 {
			t.Fatalf("bind: %d %s", c.Status, c.Body)
		}
	})
}

// Belgium's PRADO identity card specimens read (two readings of the long
// document number's check digit), and a wrong check digit says which field
// and what it should be.
func TestTD1LongNumberSpecimensAndCheckDigitMessage(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		for _, mrz := range [][]string{
			{"IDBEL000590240<6013<<<<<<<<<<<", "8512017F1311048BEL851201002007", "REINARTZ<<ULRIKE<KATIA<E<<<<<<"},
			{"IDBEL600001795<0152<<<<<<<<<<<", "1301014F2311207BEL130101987398", "SPECIMEN<<SPECIMEN<<<<<<<<<<<<"},
		} {
			r := a.createVisitor(t, a.partnerKey, mrz, "")
			if r.Status != 201 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if st, rs := kycOf(t, r); st != "rejected" || !strings.Contains(rs, "document_expired") {
				t.Fatalf("%s %s", st, rs)
			}
		}
		r := a.createVisitor(t, a.partnerKey, []string{"IDBEL000590240<6013<<<<<<<<<<<", "8513017F1311048BEL851201002007", "REINARTZ<<ULRIKE<KATIA<E<<<<<<"}, "")
		if r.Status != 400 || r.errCode(t) != "mrz_check_digit" || r.errParam(t) != "mrz.date_of_birth" ||
			!strings.Contains(string(r.Body), "expected 4 for date_of_birth") {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
}

// A transliteration of a listed name (DRAKOVITCH for the listed alias
// DRAKOVICH) with no birth date corroboration goes to review, and the
// review shows the list entry, the fields that agreed and the score.
func TestReviewShowsScreeningCandidates(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		r := a.createVisitor(t, a.partnerKey, td3("UTO", "DRAKOVITCH", "MIRKO", "T7654321", "710303", "M", "320101"), "")
		if st, rs := kycOf(t, r); st != "review" || rs != "sanctions_possible_match" {
			t.Fatalf("%s %s: %s", st, rs, r.Body)
		}
		l := do(t, "GET", a.admin.URL+"/admin/v1/reviews", a.staff(auth.Viewer), "")
		rev := l.json(t)["data"].([]any)[0].(map[string]any)
		sc, ok := rev["screening"].(map[string]any)
		if !ok || !strings.HasPrefix(sc["list_version"].(string), "sha256:") || sc["outcome"] != "possible_match" {
			t.Fatalf("review screening: %s", l.Body)
		}
		c := sc["candidates"].([]any)[0].(map[string]any)
		if c["entry_id"] != "9000001" || c["name_match"] != "transliteration" || c["birth_date"] != "mismatch" ||
			fmt.Sprint(c["agreed"]) != "[surname given_names]" || c["score"].(float64) < 0.9 {
			t.Fatalf("candidate %v", c)
		}
	})
}
