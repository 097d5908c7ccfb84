"""Kiosk mode: judge a self-check kiosk (SC) by putting a reference ACS in front of it.

:mod:`.acs` builds the reference ACS (sip2d on a throwaway database seeded from the profile),
:mod:`.observer` relays and records every frame, :mod:`.checks` holds the kiosk checks and
:mod:`.runner` ties them together for ``sip2d-conformance kiosk``.
"""
