"""Why a connection failed, in words: the real reason behind a wrapped network or TLS error.

trio reports a failed TLS handshake as ``BrokenResourceError`` with an empty message and the
``ssl`` error as its cause, so printing the exception alone says nothing. This walks the chain
and names the first reason found: a certificate that was not accepted (with OpenSSL's verdict),
a handshake the server did not speak, a refused or unreachable address.
"""

from __future__ import annotations

import ssl


def connection_failure(exc: BaseException, *, tls: bool = False) -> str:
    """One line saying why ``exc`` ended a connection; never empty."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {seen.verify_message or seen.reason}"
        if isinstance(seen, ssl.SSLError):
            reason = seen.reason or str(seen)
            return f"TLS handshake failed: {reason} (does the server speak TLS on this port?)"
        text = (seen.strerror if isinstance(seen, OSError) else None) or str(seen)
        if text:
            return text
        seen = seen.__cause__ or seen.__context__
    if tls:
        return "the server closed the connection during the TLS handshake (is this a TLS port?)"
    return f"the connection failed ({type(exc).__name__})"
