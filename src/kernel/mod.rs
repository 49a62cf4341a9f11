//! Kernel services, one module per OTP kernel process they mirror.
