"""63 Patron Information details: the summary selects one list, BP/BQ page through it.

Reference sections 5.2 and 7.6, pitfall P28. A kiosk that shows "your loans" sends a summary with
a Y in position 3 and pages with BP/BQ (1-based, inclusive); a server that sends every list, or
counts from 0, shows the patron the wrong items.
"""

from __future__ import annotations

from conformance import requests
from conformance.checks.context import CheckSession
from conformance.judge import variable_codes
from conformance.model import SHOULD, CheckFailed, CheckSkipped, check
from sip2d.protocol import PatronInformationResponse, Summary

GROUP = "Patron information"
LIST_CODES = frozenset(Summary.LIST_FIELDS.values())


@check("PI-01", "The 63 summary position selects only the matching list in the 64",
       "§5.2, P28", SHOULD, GROUP)  # fmt: skip
async def summary_selects_list(s: CheckSession) -> None:
    s.require_supported("63")
    barcode, pin = s.patron_pin()
    wire = await s.connect()
    wrong: list[str] = []
    for category, code in Summary.LIST_FIELDS.items():
        summary = Summary(**{category: True})
        request = requests.patron_information(s.profile, barcode, pin, summary=summary)
        _reply, frame = await s.ask_frame(wire, request, PatronInformationResponse)
        others = sorted(set(variable_codes(frame, s.encoding)) & LIST_CODES - {code})
        if others:
            wrong.append(f"{category} ({code}) also got {', '.join(others)}")
    if wrong:
        raise CheckFailed("lists not asked for were sent: " + "; ".join(wrong))


@check("PI-02", "BP/BQ page the selected list, 1-based and inclusive", "§7.6, P28", SHOULD,
       GROUP)  # fmt: skip
async def paging(s: CheckSession) -> None:
    s.require_supported("63")
    barcode, pin = s.patron_pin()
    wire = await s.connect()
    charged = Summary(charged_items=True)

    async def page(start: int | None, end: int | None) -> tuple[str, ...]:
        request = requests.patron_information(
            s.profile, barcode, pin, summary=charged, start=start, end=end
        )
        reply = await s.ask(wire, request, PatronInformationResponse)
        assert isinstance(reply, PatronInformationResponse)
        return reply.charged_items

    everything = await page(None, None)
    if not everything:
        raise CheckSkipped("the profile's patron has no charged items to page through")
    for start in (1, 2):
        got = await page(start, start)
        wanted = everything[start - 1 : start]
        if got != wanted:
            raise CheckFailed(
                f"BP{start} BQ{start} gave {list(got)}, expected {list(wanted)} "
                f"(item {start} of {list(everything)})"
            )
    s.note(f"paged {len(everything)} charged item(s)")


CHECKS = (summary_selects_list, paging)
