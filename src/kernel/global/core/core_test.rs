//! Unit tests of the core: message shapes against the OTP 25 traces.
