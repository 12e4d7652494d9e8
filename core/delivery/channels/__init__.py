"""Delivery channels: each sends one rendered OTP message and reports how it went."""
