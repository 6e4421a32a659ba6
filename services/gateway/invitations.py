"""A grant issued from the console, as the organiser hands it over: its sign-in link (the token
in the fragment, which no server and no log sees) and the link as a QR code, drawn by the console
on a canvas (no image crosses the page's content policy)."""

from __future__ import annotations

import segno

from leitai.grants import SIGN_IN_PAGES


def handed_over(invitation: dict, base_url: str) -> dict:
    """``invitation`` (registration's answer: the grant and its token) with ``link`` and ``qr``
    (rows of "0"/"1", dark = "1", without the quiet zone); both None for a screen, which types
    its token in on the big screen."""
    page = SIGN_IN_PAGES.get(invitation["role"])
    if page is None:
        return dict(invitation, link=None, qr=None)
    link = f"{base_url}{page}#token={invitation['token']}"
    code = segno.make_qr(link, error="m")
    return dict(invitation, link=link, qr=["".join("1" if dark else "0" for dark in row) for row in code.matrix])
