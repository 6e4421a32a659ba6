"use strict";
// 现场亮分: the hall's screen (/hall/<session>#token=<screen token>). Every 2 seconds it asks
// the API for the session as it runs (GET /sessions/<session>/hall, with the screen's token):
// the contestant just scored, each seat's score (dropped ones struck through) and the score they
// give, then the running standings. Needs pages.js (Leitai) and screen.js (the sign-in).
const PAGE = "live";  // the screen's token, as the big screen keeps it
const POLL_MS = 2000;
const {el} = Leitai;
const SESSION = decodeURIComponent(location.pathname.split("/")[2] || "");
let shownKey = "", titled = false;

// the heading: the contest, the stage and the group, the place (from the contest's public view)
async function title(hall) {
  const answer = await Leitai.call(PAGE, "GET", "/contests/" + encodeURIComponent(hall.contest_id)).catch(() => null);
  if (!answer || answer.status !== 200) return;
  const stage = answer.body.stages.find((s) => s.stage_id === hall.stage_id) || {groups: []};
  const group = stage.groups.find((g) => g.group_id === hall.group_id);
  document.getElementById("title").textContent = answer.body.name + " · " + (stage.name || hall.stage_id)
    + (group ? " · " + group.name : "") + (hall.place ? " · " + hall.place : "");
  titled = true;
}

async function poll() {
  if (!Leitai.token(PAGE)) return LeitaiScreen.ask("", poll, "");
  let answer;
  try {
    answer = await Leitai.call(PAGE, "GET", "/sessions/" + encodeURIComponent(SESSION) + "/hall");
  } catch (e) {
    document.getElementById("status").textContent = "连接中断，正在重试";
    return setTimeout(poll, POLL_MS);
  }
  if (answer.status === 401 || answer.status === 403) {
    Leitai.signOut(PAGE);
    return LeitaiScreen.ask("", poll, Leitai.errorText(answer));
  }
  if (answer.status !== 200) {
    document.getElementById("status").textContent = Leitai.errorText(answer);
    return setTimeout(poll, POLL_MS);
  }
  if (!titled) await title(answer.body);
  show(answer.body);
  document.getElementById("status").textContent = "实时";
  setTimeout(poll, POLL_MS);
}

function show(hall) {
  document.body.dataset.updated = String(Number(document.body.dataset.updated || 0) + 1);  // for whoever waits on it
  const done = hall.entries.filter((e) => e.complete);
  const last = done.length ? done.reduce((a, b) => (b.order > a.order ? b : a)) : null;
  const key = last ? last.entry_id + ":" + last.stage_score + ":" + hall.locked : "";
  if (key !== shownKey) {
    shownKey = key;
    const box = document.getElementById("highlight");
    if (!last) box.replaceChildren("等待评委评分……");
    else box.replaceChildren(
      el("div", {text: "第" + last.order + "位　" + last.name}),
      el("div", {class: "seats"}, ...last.seats.map((s) => el("span", {class: s.dropped ? "seat dropped" : "seat",
        text: s.seat + "号评委 " + s.total}))),
      el("div", {}, "最后得分 ", el("span", {class: "score", text: last.stage_score}),
        hall.locked ? "" : el("span", {class: "provisional", text: "（待锁定确认）"})));
  }
  document.getElementById("board").replaceChildren(...hall.standings.map((r) => el("tr", {"data-entry": r.entry_id},
    el("td", {text: "第" + r.rank + "名"}), el("td", {text: r.name}), el("td", {text: r.stage_score}))));
  const next = hall.entries.find((e) => e.entry_id === hall.on_stage);
  document.getElementById("progress").textContent = hall.locked ? "本场已锁定，成绩以公布为准。"
    : next ? "当前上场：第" + next.order + "位　" + next.name + "（已收评分 " + next.sheets_in + " / " + next.sheets_expected + "）"
    : "本场各选手的评分均已收齐。";
}

poll();
