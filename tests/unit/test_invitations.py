"""Judges are invited, not configured: an organiser issues a judge of the contest (or a hall's
screen) a grant from the console, sees it listed and revokes it; issuing again replaces what a
judge had. Against the in-memory system; the gateway's link and QR code are checked here too."""

from __future__ import annotations

import pytest
import segno

from leitai.errors import Forbidden, InvalidInput, NotFound
from services.gateway.invitations import handed_over
from tests.unit.test_service_layer import ORG, registered

THEIRS = {"role": "organiser", "id": "org1", "office": "other"}


def test_a_registered_judge_is_invited_with_a_grant_for_this_contest_named_after_them():
    system = registered()
    invited = system.registration.invite(ORG, "c", {"role": "judge", "id": "J2", "days": 7})
    assert {k: invited[k] for k in ("role", "id", "contest_id", "label", "replaces")} == {
        "role": "judge",
        "id": "J2",
        "contest_id": "c",
        "label": "评委二",
        "replaces": [],
    }
    assert invited["token"].startswith("lt_")
    [grant] = system.registration.invitations(ORG, "c")
    assert (grant["role"], grant["id"], grant["contest"], grant["status"], grant["minted_by"]) == (
        "judge",
        "J2",
        "c",
        "active",
        "org1",
    )
    assert "token" not in grant and "digest" not in grant


def test_inviting_a_judge_again_revokes_what_they_had():
    system = registered()
    first = system.registration.invite(ORG, "c", {"role": "judge", "id": "J1"})
    again = system.registration.invite(ORG, "c", {"role": "judge", "id": "J1"})
    assert again["replaces"] == [first["grant_id"]] and again["token"] != first["token"]
    statuses = {g["grant_id"]: (g["status"], g.get("revoke_reason")) for g in system.registration.invitations(ORG, "c")}
    assert statuses == {first["grant_id"]: ("revoked", "issued again"), again["grant_id"]: ("active", None)}


def test_a_screen_is_invited_by_its_halls_name_and_keeps_each_grant():
    system = registered()
    one = system.registration.invite(ORG, "c", {"role": "screen", "id": "hall-1", "label": "一号会场"})
    two = system.registration.invite(ORG, "c", {"role": "screen", "id": "hall-1"})
    assert one["label"] == "一号会场" and two["label"] == "hall-1" and two["replaces"] == []


def test_an_unknown_judge_another_countys_organiser_or_another_contests_grant_is_refused():
    system = registered()
    with pytest.raises(NotFound, match="judge J9 is not registered in contest c"):
        system.registration.invite(ORG, "c", {"role": "judge", "id": "J9"})
    with pytest.raises(Forbidden, match="this grant is for the contests of office other"):
        system.registration.invite(THEIRS, "c", {"role": "judge", "id": "J1"})
    with pytest.raises(Forbidden, match="this grant is for"):
        system.registration.invitations(THEIRS, "c")
    with pytest.raises(Forbidden, match="only an organiser may invite judges and screens"):
        system.registration.invite({"role": "judge", "id": "J1", "contest": "c"}, "c", {"role": "judge", "id": "J1"})
    assert system.grants.grants == []
    elsewhere = system.grants.mint({"role": "judge", "id": "J1", "contest": "d"}, label="", by="x", days=1)
    with pytest.raises(NotFound, match=f"no grant {elsewhere.grant_id} in contest c"):
        system.registration.revoke_invitation(ORG, "c", elsewhere.grant_id, "not ours")
    assert system.grants.grants[0]["status"] == "active"


def test_a_revoked_invitation_says_who_and_why_and_revoking_again_changes_nothing():
    system = registered()
    invited = system.registration.invite(ORG, "c", {"role": "judge", "id": "J3"})
    revoked = system.registration.revoke_invitation(ORG, "c", invited["grant_id"], "换人")
    assert (revoked["status"], revoked["revoked_by"], revoked["revoke_reason"]) == ("revoked", "org1", "换人")
    assert system.registration.revoke_invitation(ORG, "c", invited["grant_id"], "again")["revoke_reason"] == "换人"


def test_the_link_carries_the_token_in_its_fragment_and_the_qr_code_is_the_links():
    invitation = {"role": "judge", "token": "lt_" + "a" * 43}
    shown = handed_over(invitation, "https://leitai.example.gov.cn")
    assert shown["link"] == "https://leitai.example.gov.cn/judge#token=lt_" + "a" * 43
    expected = segno.make_qr(shown["link"], error="m")
    assert shown["qr"] == ["".join("1" if v else "0" for v in row) for row in expected.matrix]
    assert len(shown["qr"]) == len(shown["qr"][0]) >= 21
    assert handed_over({"role": "screen", "token": "lt_x"}, "https://x")["link"] is None


def test_an_invitation_refused_leaves_the_judges_grant_working_and_a_name_with_a_tab_is_a_label(monkeypatch):
    system = registered()
    first = system.registration.invite(ORG, "c", {"role": "judge", "id": "J1"})

    def refused(*args, **kwargs):
        raise InvalidInput("this grant cannot be minted", {"label": ["no control characters"]})

    with monkeypatch.context() as patched:
        patched.setattr(system.grants, "mint", refused)
        with pytest.raises(InvalidInput):
            system.registration.invite(ORG, "c", {"role": "judge", "id": "J1"})
    assert [g["status"] for g in system.registration.invitations(ORG, "c")] == ["active"]
    assert system.grants.grants[0]["grant_id"] == first["grant_id"]
    system.registration.register_judge(ORG, "c", {"judge_id": "J7", "name": "评委\t七", "township_code": None})
    assert system.registration.invite(ORG, "c", {"role": "judge", "id": "J7"})["label"] == "评委 七"


def test_a_grant_for_one_contest_creates_no_contest():
    system = registered()
    mine = {"role": "organiser", "id": "o", "contest": "new"}
    with pytest.raises(Forbidden, match="a contest is created with a grant of its office"):
        system.registration.create_contest(
            mine, {"contest_id": "new", "name": "擂台", "tree_id": "tree", "county_code": "cty", "format": "knockout"}
        )


def test_the_organising_offices_contact_is_kept_for_its_notices():
    system = registered()
    office = {"name": "县委组织部", "email": "zzb@example.cn", "phone": "13800000000"}
    contest = {"contest_id": "o2", "name": "擂台", "tree_id": "tree", "county_code": "cty", "format": "knockout"}
    system.registration.create_contest(ORG, dict(contest, organiser=office))
    assert system.registration.contest_view(ORG, "o2")["organiser"] == office
