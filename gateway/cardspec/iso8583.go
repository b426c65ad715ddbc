package cardspec

// ISO 8583 field 39 response codes that cardnet answers and the gateway
// understands. Codes outside this list are treated as a generic decline.
const (
	RCApproved              = "00"
	RCDoNotHonor            = "05"
	RCInvalidTransaction    = "12"
	RCInvalidAmount         = "13"
	RCInvalidCardNumber     = "14"
	RCNoSuchIssuer          = "15"
	RCFormatError           = "30"
	RCLostCard              = "41"
	RCStolenCard            = "43"
	RCInsufficientFunds     = "51"
	RCExpiredCard           = "54"
	RCSecurityViolation     = "63"
	RCIssuerUnavailable     = "91"
	RCDuplicateTransmission = "94"
	RCSystemMalfunction     = "96"
	RCIncorrectCVC          = "N7"
	// RCAuthenticationRequired is Visa's "1A" soft decline: the issuer wants
	// the cardholder authenticated (here with an OTP) before it decides.
	RCAuthenticationRequired = "1A"
)

// Message type indicators (ISO 8583 MTI) of the requests, as Ref.MTI holds
// them.
const (
	MTIAuthorization = "0100"
	MTIFinancial     = "0200"
	MTICompletion    = "0220"
	MTIReversal      = "0400"
	MTIEcho          = "0800"
)
