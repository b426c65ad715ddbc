package webhook

// DialControl exposes the dial-time check to the external tests.
var DialControl = dialControl
