"""One module per message family; each handler is ``async (HandlerContext, request) -> Result``.

- :mod:`.login_status` — 93 Login, 99 SC Status
- :mod:`.patron` — 23, 63, 35, 01, 25
- :mod:`.circulation` — 11, 09, 29, 65
- :mod:`.fees` — 37
- :mod:`.holds` — 15
- :mod:`.items` — 17, 19

The map from request type to handler is built in :mod:`sip2d.server.dispatch`; the rules all
handlers share (PINs, refusals, who is asking) are in :mod:`.context`, the permissions in
:mod:`.permissions`.
"""
