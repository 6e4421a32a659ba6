"""A grant issued from the console, as the organiser hands it over: its sign-in link (the token
in the fragment, which no server and no log sees) and the link as a QR code, drawn by the console
on a canvas (no image crosses the page's content policy)."""

from __future__ import annotations

from leitai.grants import sign_in_code, sign_in_link


def handed_over(invitation: dict, base_url: str) -> dict:
    """``invitation`` (registration's answer: the grant and its token) with ``link`` and ``qr``
    (rows of "0"/"1", dark = "1", without the quiet zone); both None for a screen, which types
    its token in on the big screen."""
    link = sign_in_link(base_url, invitation["role"], invitation["token"])
    if link is None:
        return dict(invitation, link=None, qr=None)
    rows = sign_in_code(link).matrix
    return dict(invitation, link=link, qr=["".join("1" if dark else "0" for dark in row) for row in rows])
