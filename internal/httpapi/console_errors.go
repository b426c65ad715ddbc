package httpapi

// Describe maps an error of a domain service to what the admin API would
// answer: the HTTP status, the error code, the request field it is about
// (param, may be empty) and the message. The support console
// (internal/console) shows the same message beside the same field as the
// API, from the one table in errors.go.
func Describe(err error) (status int, code, param, message string) {
	ae, _ := toAPIError(err)
	return ae.Status, string(ae.Code), ae.Param, ae.Message
}

// InvalidParam is the API's 400 parameter_invalid error about param, for
// the console's form checks (the same shape as a request the API refuses).
func InvalidParam(param, message string) error {
	return newError("parameter_invalid", param, message)
}
