from pathlib import Path

import pytest

from leitai.ratelimit import RateLimit
from services.notify.messages import NotYetKnown, notices_for
from services.notify.wording import Wording

render = Wording.load().render


class Known:
    def __init__(self, **collections):
        self.collections = collections

    def get(self, collection, key):
        return self.collections.get(collection, {}).get(key)


KNOWN = Known(
    contests={"c": {"name": "博爱县擂台比武"}},
    stages={"c:prelim": {"name": "乡镇初赛"}, "c:semi": {"name": "县级复赛"}},
)


def test_each_contestant_gets_their_own_result_with_score_rank_and_outcome():
    standings = [
        {"contestant_id": "a", "name": "甲书记", "stage_score": "91.25", "rank": 1, "advanced": True},
        {"contestant_id": "b", "name": "乙书记", "stage_score": "80.00", "rank": 2, "advanced": False},
    ]
    notices = notices_for(
        "StageResultsPublished",
        {"contest_id": "c", "stage_id": "prelim", "next_stage_id": "semi", "standings": standings},
        KNOWN,
    )
    assert [(n.recipient_id, n.kind) for n in notices] == [
        ("contestant-a", "stage_result"),
        ("contestant-b", "stage_result"),
    ]
    subject, body = render("stage_result", notices[0].context)
    assert subject == "比赛成绩：乡镇初赛 第1名"
    assert "最后得分为 91.25 分，排名第1名" in body and "晋级县级复赛" in body
    assert "未能晋级县级复赛" in render("stage_result", notices[1].context)[1]


def test_an_opened_session_tells_contestants_their_order_and_judges_their_seat():
    payload = {
        "contest_id": "c",
        "stage_id": "prelim",
        "session_id": "s1",
        "starts_at": "2021-06-01T09:00:00+08:00",
        "place": "县委党校",
        "video_room": "",
        "entries": [
            {"contestant_id": "a", "name": "甲书记", "order": 2},
            {"contestant_id": "b", "name": "乙", "order": 1},
        ],
        "panel": [{"judge_id": "j1", "name": "评委一", "head": True, "reserve": False}],
    }
    notices = notices_for("SessionOpened", payload, KNOWN)
    assert [n.kind for n in notices] == ["session_notice", "session_notice", "judge_seated"]
    assert "出场顺序：第2位（共2位，抽签决定）" in render("session_notice", notices[0].context)[1]
    assert "主评委" in render("judge_seated", notices[2].context)[1]


def test_an_event_about_something_not_yet_known_waits_for_a_retry():
    with pytest.raises(NotYetKnown):
        notices_for("StageResultsPublished", {"contest_id": "c", "stage_id": "final", "standings": []}, KNOWN)


def test_no_comments_no_notice():
    assert notices_for("EntryScored", {"contest_id": "c", "entry_id": "e", "comments": []}, KNOWN) == []


def test_the_rate_limit_lets_a_burst_through_then_paces():
    now = [0.0]  # steps that binary floating point holds exactly
    limit = RateLimit(per_second=5, clock=lambda: now[0])
    assert sum(limit.take() for _ in range(10)) == 5
    now[0] = 0.125  # 0.625 of a token
    assert not limit.take()
    now[0] = 0.25  # 1.25 tokens
    assert limit.take() and not limit.take()


def test_a_reminder_goes_to_every_judge_of_the_session_with_their_role():
    from services.notify.messages import reminders_for

    session = {
        "entries": 15,
        "where": {
            "stage_name": "乡镇初赛",
            "starts_at": "2026-12-01T09:00:00+08:00",
            "place": "县委党校",
            "video_room": "",
        },
        "panel": [
            {"judge_id": "j1", "name": "评委一", "role": "主评委"},
            {"judge_id": "j2", "name": "评委二", "role": "评委"},
        ],
    }
    notices = reminders_for(session)
    assert [n.recipient_id for n in notices] == ["judge-j1", "judge-j2"]
    subject, body = render("session_reminder", notices[0].context)
    assert subject == "评分提醒：乡镇初赛 即将开始" and "主评委" in body and "县委党校" in body


def test_each_evaluator_of_a_forum_meeting_is_asked_to_comment():
    known = Known(
        series={"c:forum": {"name": "碣石镇“一月一主题”书记论坛"}},
        recipients={"c:judge-T1": {"name": "陈书记"}, "c:judge-L1": {"name": "林书记"}},
    )
    payload = {
        "contest_id": "c",
        "series_id": "forum",
        "meeting_id": "m3",
        "date": "2021-03-12",
        "theme": "禁毒示范创建",
        "central_task": "现场观摩",
        "presenters": ["p1", "p2"],
        "listeners": [],
        "evaluators": ["T1", "L1"],
    }
    notices = notices_for("ForumMeetingScheduled", payload, known)
    assert [n.recipient_id for n in notices] == ["judge-T1", "judge-L1"]
    subject, body = render(notices[0].kind, notices[0].context)
    assert subject == "点评安排：碣石镇“一月一主题”书记论坛（2021-03-12）"
    assert "陈书记同志" in body and "禁毒示范创建" in body and "2位书记" in body
    with pytest.raises(NotYetKnown):
        notices_for("ForumMeetingScheduled", dict(payload, evaluators=["X9"]), known)


def test_an_smtp_login_left_empty_in_its_secret_means_no_login_not_a_broken_setting():
    from services.notify.settings import notify_settings

    settings = notify_settings(
        {"smtp": {"host": "mail", "user": None, "password": None}, "sms": {"url": "http://sms/send", "api_key": "k"}}
    )
    assert settings["smtp"]["user"] == "" and settings["smtp"]["password"] == ""


def test_the_appellant_alone_is_told_of_receipt_and_of_the_decision():
    appeal = {
        "contest_id": "c",
        "stage_id": "semi",
        "appeal_id": "a1",
        "entry_id": "e1",
        "contestant_id": "a",
        "name": "甲书记",
        "reason": "第三位评委的分数录入有误",
        "filed_by": "org1",
    }
    (received,) = notices_for("AppealFiled", appeal, KNOWN)
    assert (received.recipient_id, received.kind) == ("contestant-a", "appeal_received")
    subject, body = render(received.kind, received.context)
    assert subject == "申诉已受理：县级复赛" and "编号 a1" in body and "第三位评委的分数录入有误" in body
    for decision, says in (("upheld", "申诉成立"), ("dismissed", "申诉不成立，维持原成绩")):
        (decided,) = notices_for(
            "AppealDecided", dict(appeal, decision=decision, reason="复核结论", decided_by="i1"), KNOWN
        )
        assert decided.kind == "appeal_decided" and says in render(decided.kind, decided.context)[1]


def test_a_republication_tells_only_the_contestants_it_changed_and_the_corrected_judge():
    known = Known(stages=KNOWN.collections["stages"], recipients={"c:judge-J2": {"name": "评委二"}})
    change = {
        "entry_id": "e2",
        "contestant_id": "b",
        "name": "乙书记",
        "before": {"stage_score": "80.00", "rank": 3, "advanced": False},
        "after": {"stage_score": "83.50", "rank": 2, "advanced": True},
    }
    notices = notices_for(
        "StageResultsRepublished",
        {
            "contest_id": "c",
            "stage_id": "semi",
            "version": 2,
            "correction_id": "k1",
            "corrected_judge_id": "J2",
            "diff": [change],
            "standings": [],
        },
        known,
    )
    assert [(n.recipient_id, n.kind) for n in notices] == [
        ("contestant-b", "result_corrected"),
        ("judge-J2", "sheet_corrected"),
    ]
    subject, body = render("result_corrected", notices[0].context)
    assert subject == "成绩更正：县级复赛" and "80.00 分 → 83.50 分" in body and "第3名 → 第2名" in body
    assert "更正后您晋级下一轮" in body
    assert "更正编号 k1" in render("sheet_corrected", notices[1].context)[1]


ADVANCEMENT = {
    "contest_id": "c",
    "change_id": "k1",
    "stage_id": "prelim",
    "next_stage_id": "semi",
    "version": 2,
    "gained": [{"entry_id": "e5", "contestant_id": "e", "name": "戊书记"}],
    "lost": [{"entry_id": "e2", "contestant_id": "b", "name": "乙书记"}],
}


def test_the_organiser_is_told_of_an_advancement_change_followed_or_waiting_for_a_decision():
    (followed,) = notices_for("AdvancementChangeFollowed", dict(ADVANCEMENT, redraw=["semi-1"]), KNOWN)
    subject, body = render(followed.kind, followed.context)
    assert followed.recipient_id == "organiser" and subject == "晋级名单随更正调整：乡镇初赛"
    assert "新增晋级：戊书记" in body and "不再晋级：乙书记" in body and "须重新抽签方可开始：semi-1" in body
    (referred,) = notices_for("AdvancementChangeReferred", dict(ADVANCEMENT, opened_sessions=["semi-1"]), KNOWN)
    subject, body = render(referred.kind, referred.context)
    assert referred.recipient_id == "organiser" and subject == "晋级变动待决定：乡镇初赛"
    assert "已开始的场次：semi-1" in body and "名单未作任何改动" in body


@pytest.mark.parametrize(
    "action, gained_says, lost_says",
    [
        ("follow", "您参加县级复赛", "您不参加县级复赛"),
        ("admit", "您参加县级复赛", "您参加县级复赛"),
        ("keep", "您不参加县级复赛", "您参加县级复赛"),
    ],
)
def test_those_an_advancement_decision_concerns_are_told_whether_they_go_on(action, gained_says, lost_says):
    decided = dict(ADVANCEMENT, action=action, reason="经研究决定", decided_by="org1")
    notices = notices_for("AdvancementChangeDecided", decided, KNOWN)
    assert [(n.recipient_id, n.kind) for n in notices] == [
        ("contestant-e", "advancement_decided"),
        ("contestant-b", "advancement_decided"),
    ]
    bodies = [render(n.kind, n.context)[1] for n in notices]
    assert gained_says in bodies[0] and lost_says in bodies[1] and all("理由：经研究决定" in b for b in bodies)


def test_every_event_notify_consumes_calls_for_a_notice_or_teaches_it_a_fact():
    """Notify's handler table sends every event but an erasure to Notify.handle: a type added
    there with no branch in messages.py (notices) or in Notify._learn (facts) would do nothing,
    silently."""
    import inspect

    from services.notify import application, messages

    handled = inspect.getsource(messages) + inspect.getsource(application.Notify._learn)
    table = application.EVENT_HANDLERS.handlers
    assert [t for t, h in table.items() if h is application.Notify.handle and f'"{t}"' not in handled] == []
    assert {t for t, h in table.items() if h is not application.Notify.handle} == {"PersonalDataErased"}


def test_the_head_judge_hears_of_a_sheet_off_the_median_once_however_often_it_is_flagged_again():
    known = Known(
        sessions={"s1": {"head": {"judge_id": "h", "name": "主评委"}}},
        recipients={"c:judge-j2": {"name": "王评委"}},
        entries={"c:e1": {"name": "甲书记"}},
    )
    flag = {"contest_id": "c", "session_id": "s1", "entry_id": "e1", "judge_id": "j2", "total": "20", "median": "80"}
    first, again = (notices_for("ToleranceFlagRaised", dict(flag, revision=r), known)[0] for r in (1, 2))
    assert (first.recipient_id, first.kind) == ("judge-h", "tolerance_flag")
    assert first.once_per == again.once_per == "tolerance:s1:e1:j2"
    body = render("tolerance_flag", dict(first.context, tolerance="10"))[1]
    assert "评委王评委对选手甲书记的评分合计 20 分" in body and "j2" not in body and "e1" not in body
    other = notices_for("ToleranceFlagRaised", dict(flag, judge_id="j3", revision=1), known)[0]
    assert other.once_per != first.once_per


def test_every_notice_kind_has_a_short_text_message_of_its_own():
    templates = Path(__file__).resolve().parents[2] / "services" / "notify" / "templates"
    kinds = {p.stem for p in templates.glob("*.txt")}
    assert {p.stem for p in (templates / "sms").glob("*.txt")} == kinds
    wording = Wording.load()
    payload = {
        "contest_id": "c",
        "stage_id": "prelim",
        "session_id": "s1",
        "starts_at": "2021-06-01T09:00:00+08:00",
        "place": "县委党校",
        "video_room": "",
        "entries": [{"contestant_id": "a", "name": "甲书记", "order": 1}],
        "panel": [{"judge_id": "j1", "name": "评委一", "head": True, "reserve": False}],
    }
    for notice in notices_for("SessionOpened", payload, KNOWN):
        text = wording.render_sms(notice.kind, notice.context)
        assert "6月1日 上午9:00" in text and "T09" not in text and len(text) <= 64, text  # 70 with 【擂台比武】
    assert (
        "时间：6月1日 上午9:00"
        in wording.render("session_notice", notices_for("SessionOpened", payload, KNOWN)[0].context)[1]
    )


def test_a_time_is_written_as_people_write_it():
    from services.notify.wording import when

    assert when("2026-12-05T09:00:00+08:00") == "12月5日 上午9:00"
    assert when("2026-12-05T14:30:00+08:00") == "12月5日 下午2:30" and when("2026-12-05T12:05:00+08:00").endswith(
        "下午12:05"
    )
    assert when("待定") == "待定"
