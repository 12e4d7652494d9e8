"""Channel senders: each sends one rendered OTP message and reports how it went."""
