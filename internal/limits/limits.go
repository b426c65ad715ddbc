// Package limits is the one definition of the length limits of free-text
// request fields, in characters (Unicode code points). The domain checks
// them, the handlers' validation uses them (as validator aliases, see
// internal/httpapi's newValidator), and a test compares them with the
// maxLength of each field in internal/httpapi/openapi.yaml.
package limits

const (
	// Reason is the longest reason of a staff action, a refund, a dispute
	// or a resolution, an adjustment or a review decision.
	Reason = 1000
	// Name is the longest name of a merchant, a partner or a staff member.
	Name = 200
	// OutTradeNo is the longest merchant order number of a payment.
	OutTradeNo = 64
	// PaymentDescription is the longest description of a payment.
	PaymentDescription = 256
	// WebhookDescription is the longest description of a webhook endpoint.
	WebhookDescription = 500
	// URL is the longest webhook endpoint URL.
	URL = 2048
)
