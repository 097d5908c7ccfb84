"""sip2d: a SIP2 server for library self-check kiosks."""

__version__ = "0.1.0"
