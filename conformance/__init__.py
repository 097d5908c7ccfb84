"""A SIP2 conformance suite that kiosk and library-system vendors can run themselves.

Why it exists: SIP2 is tested by hand or with happy-path scripts, so framing, error detection,
resends, encodings, refusal forms and field formats go unchecked until a kiosk misbehaves in a
library. This package checks them, against any SIP2 server (``sip2d-conformance server``) or any
self-check kiosk (``sip2d-conformance kiosk``), and reports in forms people and CI both read.

Design choices:
- The wire is sip2d's own sans-IO codec (:mod:`sip2d.protocol`): requests are built with its
  message classes and responses are judged with its strict validation, so the suite and the
  daemon agree on one reading of SIP2 2.00 (the rules each check cites are written down in
  docs/conformance-checks.md).
- Every check names its reference section and a severity (MUST / SHOULD / INFO); only a failed
  MUST makes the run fail, because SHOULDs are interoperability advice, not the protocol.
- Each check opens its own connections and every wait is bounded, so one broken answer costs
  one check and a silent server costs a timeout, never a hung suite.
- Format rules (fixed lengths, flags, dates, delimiters...) are judged once, over every frame
  the whole run received, by checks of their own; the per-message checks only judge what the
  message means. So one defect fails the check that names it and not twenty others.
- Secrets (PINs, the kiosk password, AC/AD/CO values) are masked in everything shown or written.

Layout: :mod:`.profile` (what the suite may use on the server), :mod:`.wire` (bounded raw I/O
with transcripts), :mod:`.judge` (strict-validation problems sorted by rule), :mod:`.checks`
(the server checks), :mod:`.kiosk` (the reference ACS and the kiosk checks), :mod:`.report`
(terminal, JUnit XML, JSON), :mod:`.cli`.
"""
