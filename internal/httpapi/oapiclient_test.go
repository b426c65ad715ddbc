package httpapi

import (
	"context"
	"net/http"
	"testing"

	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/oapiclient"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// TestGeneratedClientHappyPath drives the partner API's main path through
// the client that oapi-codegen generated from the partner document
// (internal/oapiclient), against the real server, every call also checked
// against the document: visitor, card, quote, load, merchant, payment,
// confirm, refund, unload. A document a generated client cannot use (a
// missing required header, a wrong type, an undocumented status) fails
// here.
func TestGeneratedClientHappyPath(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		conf := newConformance(t, PartnerAPI, a.partner.URL)
		auth := func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+a.partnerKey)
			return nil
		}
		cl, err := oapiclient.NewClientWithResponses(a.partner.URL, oapiclient.WithHTTPClient(conf.client()), oapiclient.WithRequestEditorFn(auth))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		key := func() string { return ids.New("k") }
		must := func(what string, status int, want int, body []byte, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if status != want {
				t.Fatalf("%s: %d %s", what, status, body)
			}
		}

		v, err := cl.CreateVisitorWithResponse(ctx, &oapiclient.CreateVisitorParams{IdempotencyKey: key()},
			oapiclient.CreateVisitorJSONRequestBody{Mrz: td3("UTO", "ERIKSSON", "ANNA MARIA", "C7Y4K2M9Q", "740812", "F", "350415")})
		must("create visitor", v.StatusCode(), 201, v.Body, err)
		if v.JSON201.Kyc.Status != oapiclient.Approved {
			t.Fatalf("visitor: %s", v.Body)
		}
		vis := v.JSON201.Id

		c, err := cl.BindCardWithResponse(ctx, vis, &oapiclient.BindCardParams{IdempotencyKey: key()}, oapiclient.BindCardJSONRequestBody{
			Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, Cvc: "123", HolderName: "ANNA ERIKSSON"})
		must("bind card", c.StatusCode(), 201, c.Body, err)
		card := c.JSON201.Id

		q, err := cl.CreateQuoteWithResponse(ctx, &oapiclient.CreateQuoteParams{}, oapiclient.CreateQuoteJSONRequestBody{
			CardId: card, Buy: &oapiclient.Money{Value: "1000.00", Currency: "CNY"}})
		must("quote", q.StatusCode(), 201, q.Body, err)

		l, err := cl.CreateLoadWithResponse(ctx, vis, &oapiclient.CreateLoadParams{IdempotencyKey: key()}, oapiclient.CreateLoadJSONRequestBody{
			CardId: card, QuoteId: q.JSON201.Id})
		must("load", l.StatusCode(), 201, l.Body, err)
		if l.JSON201.Credited != (oapiclient.Money{Value: "970.00", Currency: "CNY"}) {
			t.Fatalf("load credited %+v", l.JSON201.Credited)
		}

		m, err := cl.CreateMerchantWithResponse(ctx, &oapiclient.CreateMerchantParams{IdempotencyKey: key()}, oapiclient.CreateMerchantJSONRequestBody{
			Name: "Tea House", Mcc: "5812"})
		must("merchant", m.StatusCode(), 201, m.Body, err)

		p, err := cl.CreatePaymentWithResponse(ctx, &oapiclient.CreatePaymentParams{IdempotencyKey: key()}, oapiclient.CreatePaymentJSONRequestBody{
			VisitorId: vis, MerchantId: m.JSON201.Id, Amount: oapiclient.Money{Value: "88.88", Currency: "CNY"}, OutTradeNo: "ORDER-1"})
		must("payment", p.StatusCode(), 201, p.Body, err)
		pay := p.JSON201.Id

		cf, err := cl.ConfirmPaymentWithResponse(ctx, pay, &oapiclient.ConfirmPaymentParams{IdempotencyKey: key()}, oapiclient.ConfirmPaymentJSONRequestBody{})
		must("confirm", cf.StatusCode(), 200, cf.Body, err)
		if cf.JSON200.Status != oapiclient.PaymentStatusReleased {
			t.Fatalf("confirm: %s", cf.Body)
		}

		reason := "one cup short"
		rf, err := cl.RefundPaymentWithResponse(ctx, pay, &oapiclient.RefundPaymentParams{IdempotencyKey: key()}, oapiclient.RefundPaymentJSONRequestBody{
			Amount: &oapiclient.Money{Value: "8.88", Currency: "CNY"}, Reason: &reason})
		must("refund", rf.StatusCode(), 201, rf.Body, err)

		acct, err := cl.GetAccountWithResponse(ctx, vis)
		must("account", acct.StatusCode(), 200, acct.Body, err)
		if acct.JSON200.Available != (oapiclient.Money{Value: "890.00", Currency: "CNY"}) {
			t.Fatalf("available %+v", acct.JSON200.Available)
		}

		// The idempotent replay of the unload is marked and the same.
		ukey := key()
		u, err := cl.CreateUnloadWithResponse(ctx, vis, &oapiclient.CreateUnloadParams{IdempotencyKey: ukey}, oapiclient.CreateUnloadJSONRequestBody{CardId: card})
		must("unload", u.StatusCode(), 201, u.Body, err)
		if u.JSON201.Amount != (oapiclient.Money{Value: "890.00", Currency: "CNY"}) || u.JSON201.Status != oapiclient.UnloadStatusSucceeded {
			t.Fatalf("unload: %s", u.Body)
		}
		again, err := cl.CreateUnloadWithResponse(ctx, vis, &oapiclient.CreateUnloadParams{IdempotencyKey: ukey}, oapiclient.CreateUnloadJSONRequestBody{CardId: card})
		must("unload replay", again.StatusCode(), 201, again.Body, err)
		if again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" || again.JSON201.Id != u.JSON201.Id {
			t.Fatalf("replay: %v %s", again.HTTPResponse.Header, again.Body)
		}

		// A typed error: the account is empty now.
		none, err := cl.CreateUnloadWithResponse(ctx, vis, &oapiclient.CreateUnloadParams{IdempotencyKey: key()}, oapiclient.CreateUnloadJSONRequestBody{CardId: card})
		must("empty unload", none.StatusCode(), 409, none.Body, err)
		if none.JSON409 == nil || none.JSON409.Error.Code != "nothing_to_unload" {
			t.Fatalf("empty unload: %s", none.Body)
		}
	})
}
