"""A small library behind PyPI ``pysip2`` 0.1.0's server: an independent SIP2 implementation.

The conformance suite must work against any SIP2 server, so it is run against this one too.
The backend answers the messages a self-check kiosk needs (login, patron status and
information, checkout, checkin, renew, item information, end session) from two dictionaries,
the way a vendor would wire pysip2 to an ILS; messages without a handler get pysip2's own
refusal responses, and its BX says so. Written for these tests from pysip2's public API.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from pysip2 import (  # type: ignore[import-not-found]
    CHECKIN,
    CHECKOUT,
    END_PATRON_SESSION,
    ITEM_INFORMATION,
    LOGIN,
    PATRON_INFORMATION,
    PATRON_STATUS,
    RENEW,
    CheckinResponse,
    CheckoutResponse,
    EndSessionResponse,
    ItemInformationResponse,
    LoginResponse,
    PatronInformationResponse,
    PatronStatusResponse,
    RenewResponse,
    SIP2Server,
)

KIOSK = ("pykiosk", "pypass")
PATRONS = {"3001": ("Grace Hopper", "1357"), "3002": ("Alan Turing", "2468")}
ITEMS = {"4001": "Compilers", "4002": "Computing Machinery"}


def sip_date(when: datetime) -> str:
    return when.strftime("%Y%m%d") + "    " + when.strftime("%H%M%S")


@dataclasses.dataclass
class Library:
    loans: dict[str, str] = dataclasses.field(default_factory=dict)  # item -> patron

    def charged(self, patron: str) -> tuple[str, ...]:
        return tuple(item for item, who in self.loans.items() if who == patron)


def build_server(library: Library) -> SIP2Server:
    app = SIP2Server(
        institution_id="PYLIB",
        library_name="pysip2 test library",
        login_required=True,
    )

    @app.route(LOGIN)
    def login(req, ctx):  # type: ignore[no-untyped-def]
        # Credentials sent encrypted with an unstandardised algorithm are refused (P33).
        plain = req.uid_algorithm == "0" and req.pwd_algorithm == "0"
        ok = plain and (req.login_user_id, req.login_password) == KIOSK
        return LoginResponse(ok="1" if ok else "0")

    def status_fields(req):  # type: ignore[no-untyped-def]
        known = PATRONS.get(req.patron_identifier)
        pin_ok = None
        if known is not None and req.patron_password:
            pin_ok = "Y" if req.patron_password == known[1] else "N"
        return {
            "patron_status": " " * 14 if known else "YYYY" + " " * 10,
            "language": "000",
            "transaction_date": ctx_now(),
            "institution_id": "PYLIB",
            "patron_identifier": req.patron_identifier,
            "personal_name": known[0] if known else "",
            "valid_patron": "Y" if known else "N",
            "valid_patron_password": pin_ok,
        }

    @app.route(PATRON_STATUS)
    def patron_status(req, ctx):  # type: ignore[no-untyped-def]
        return PatronStatusResponse(**status_fields(req))

    @app.route(PATRON_INFORMATION)
    def patron_information(req, ctx):  # type: ignore[no-untyped-def]
        charged = library.charged(req.patron_identifier)
        wanted = charged if req.summary[2:3] == "Y" else ()
        start = int(req.start_item) if req.start_item else 1
        end = int(req.end_item) if req.end_item else len(wanted)
        return PatronInformationResponse(
            **status_fields(req),
            hold_items_count="0000",
            overdue_items_count="0000",
            charged_items_count=f"{len(charged):04d}",
            fine_items_count="0000",
            recall_items_count="0000",
            unavailable_holds_count="0000",
            charged_items=wanted[start - 1 : end],
        )

    def circulation(req, ok: bool, due: str, message: str):  # type: ignore[no-untyped-def]
        return {
            "ok": "1" if ok else "0",
            "renewal_ok": "N",
            "magnetic_media": "N",
            "desensitize": "Y" if ok else "N",
            "transaction_date": ctx_now(),
            "institution_id": "PYLIB",
            "patron_identifier": req.patron_identifier,
            "item_identifier": req.item_identifier or "",
            "title_identifier": ITEMS.get(req.item_identifier or "", ""),
            "due_date": due,
            "screen_message": (message,) if message else (),
        }

    @app.route(CHECKOUT)
    def checkout(req, ctx):  # type: ignore[no-untyped-def]
        patron = PATRONS.get(req.patron_identifier)
        ok = (
            patron is not None
            and req.item_identifier in ITEMS
            and req.item_identifier not in library.loans
            and req.patron_password in (None, "", patron[1])
        )
        if ok:
            library.loans[req.item_identifier] = req.patron_identifier
        due = sip_date(datetime.now() + timedelta(days=21)) if ok else ""
        return CheckoutResponse(**circulation(req, ok, due, "" if ok else "Checkout refused"))

    @app.route(RENEW)
    def renew(req, ctx):  # type: ignore[no-untyped-def]
        ok = library.loans.get(req.item_identifier or "") == req.patron_identifier
        due = sip_date(datetime.now() + timedelta(days=21)) if ok else ""
        return RenewResponse(**circulation(req, ok, due, "" if ok else "Renewal refused"))

    @app.route(CHECKIN)
    def checkin(req, ctx):  # type: ignore[no-untyped-def]
        patron = library.loans.pop(req.item_identifier, None)
        ok = patron is not None
        return CheckinResponse(
            ok="1" if ok else "0",
            resensitize="Y" if ok else "N",
            magnetic_media="N",
            alert="N",
            transaction_date=ctx_now(),
            institution_id="PYLIB",
            item_identifier=req.item_identifier,
            permanent_location="STACKS" if req.item_identifier in ITEMS else "",
            title_identifier=ITEMS.get(req.item_identifier),
            patron_identifier=patron,
        )

    @app.route(ITEM_INFORMATION)
    def item_information(req, ctx):  # type: ignore[no-untyped-def]
        title = ITEMS.get(req.item_identifier)
        on_loan = req.item_identifier in library.loans
        return ItemInformationResponse(
            circulation_status=("04" if on_loan else "03") if title else "01",
            security_marker="01",
            fee_type="01",
            transaction_date=ctx_now(),
            due_date=sip_date(datetime.now() + timedelta(days=21)) if on_loan else None,
            item_identifier=req.item_identifier,
            title_identifier=title or "",
        )

    @app.route(END_PATRON_SESSION)
    def end_session(req, ctx):  # type: ignore[no-untyped-def]
        return EndSessionResponse(
            end_session="Y",
            transaction_date=ctx_now(),
            institution_id="PYLIB",
            patron_identifier=req.patron_identifier,
        )

    return app


def ctx_now() -> str:
    return sip_date(datetime.now())
