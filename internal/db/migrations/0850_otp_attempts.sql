-- How many OTPs the cardholder has sent for a challenged network call (a
-- card binding or a load). The gateway allows gateway.MaxOTPAttempts; the
-- counter is raised under the call's row lock before each OTP goes out, so
-- two OTPs sent at once cannot both count as the same attempt.
ALTER TABLE network_calls ADD COLUMN otp_attempts INTEGER NOT NULL DEFAULT 0
