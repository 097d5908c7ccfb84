"""Why a connection failed, in words: the real reason behind a wrapped network or TLS error.

trio reports a failed TLS handshake as ``BrokenResourceError`` with an empty message and the
``ssl`` error as its cause, so printing the exception alone says nothing. This walks the chain
and names the first reason found: a certificate that was not accepted (with OpenSSL's verdict),
a handshake the server did not speak, a refused or unreachable address. A peer that is not a
TLS server often just drops the ClientHello (a reset), so with ``tls`` that case says so too.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def connection_failure(exc: BaseException, *, tls: bool = False) -> str:
    """One line saying why ``exc`` ended a connection; never empty."""
    chain = list(_chain(exc))
    for seen in chain:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {seen.verify_message or seen.reason}"
        if isinstance(seen, ssl.SSLError):
            reason = seen.reason or str(seen)
            return f"TLS handshake failed: {reason} (does the server speak TLS on this port?)"
    dropped = any(isinstance(seen, ConnectionResetError | BrokenPipeError) for seen in chain)
    hint = " (does the server speak TLS on this port?)" if tls and dropped else ""
    for seen in chain:
        text = (seen.strerror if isinstance(seen, OSError) else None) or str(seen)
        if text:
            return text + hint
    if tls:
        return "the server closed the connection during the TLS handshake (is this a TLS port?)"
    return f"the connection failed ({type(exc).__name__})"
