"""Dialer: the Stasis application Asterisk talks to, and its domain."""
