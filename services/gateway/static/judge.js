"use strict";
// The judge's tablet. A sheet is put in this device's outbox first (localStorage) with its
// submission id, then sent; it stays there, shown as 待发送, until the gateway answers, and is
// sent again with the same id, so the server stores it once however often it goes.
const PAGE = "judge", OUTBOX = "leitai.judge.outbox";
const $ = (id) => document.getElementById(id);
const {el, say} = Leitai;
let desk = null, chosen = {session: null, entry: null}, outcomes = {}, flushing = false;

const keyOf = (sessionId, entryId) => sessionId + "/" + entryId;
let places = {};  // contest id -> its stages' and groups' names, from the contest's public view
// a score's problem as the page finds it (Leitai.scoreProblem, in the API's words), for the judge
const PROBLEMS = [
  [/^missing score$/, () => "请填写分数"],
  [/^Not a valid number\.$/, () => "不是有效的分数，请写数字，例如 26.5"],
  [/^must be between 0 and (.+)$/, (m) => "应在 0 到 " + m[1] + " 分之间"],
  [/^must be a multiple of (.+)$/, (m) => "须按 " + m[1] + " 分一档给分"],
];
function inChinese(problem) {
  for (const [pattern, say] of PROBLEMS) { const m = pattern.exec(problem); if (m) return say(m); }
  return problem;
}
const dated = (iso) => Leitai.dated(iso) || "—";
const points = (text) => {  // a total as the live one shows it: 87.0 and 87 are the same 87
  const value = Leitai.decimal(text);
  return value === null ? text : Leitai.format(value);
};
async function learnPlaces() {  // the names of the stages and groups the judge's sessions belong to
  for (const id of new Set(desk.sessions.map((s) => s.contest_id))) {
    if (places[id]) continue;
    const answer = await Leitai.call(PAGE, "GET", "/contests/" + encodeURIComponent(id)).catch(() => null);
    if (!answer || answer.status !== 200) continue;
    places[id] = {stages: Object.fromEntries(answer.body.stages.map((st) => [st.stage_id, st.name])),
                  groups: Object.fromEntries(answer.body.stages.flatMap((st) => st.groups.map((g) => [g.group_id, g.name])))};
  }
}
const placeOf = (s) => {
  const known = places[s.contest_id];
  return known ? (known.stages[s.stage_id] || s.stage_id) + " · " + (known.groups[s.group_id] || s.group_id)
               : s.stage_id + " · " + s.session_id;
};
const outbox = () => JSON.parse(localStorage.getItem(OUTBOX) || "[]");
function keep(items) { localStorage.setItem(OUTBOX, JSON.stringify(items)); showWaiting(); }
const mine = (i) => !i.token || i.token === Leitai.token(PAGE);  // a device may pass from judge to judge
const waitingFor = (sessionId, entryId) => outbox().find((i) => i.session_id === sessionId && i.entry_id === entryId
                                                              && mine(i));

function showWaiting() {
  const count = outbox().length;
  $("waiting").textContent = count + " 份待发送";
  $("waiting").classList.toggle("hidden", count === 0);
}
const setOnline = (online) => Leitai.network(online, "离线：评分暂存本机，恢复后自动发送", "pending");
const showSignIn = (message) => Leitai.showSignIn("desk", message);

// a link that no longer works says so, and whom to ask, until a new one is opened or typed in
const LINK_ENDED = "此登录链接已失效（可能已过期、已被作废或输入有误）。请向比武组织方索取新的登录链接或二维码。";

async function load() {
  // signed out: the form stays as it is, with what it says (this runs every 3 seconds)
  if (!Leitai.token(PAGE)) return $("sign-in").classList.contains("hidden") ? showSignIn() : undefined;
  let answer;
  try {
    answer = await Leitai.call(PAGE, "GET", "/judges/me/sessions");
  } catch (e) {
    if (e instanceof Leitai.Offline) return setOnline(false);
    throw e;
  }
  setOnline(true);
  if (answer.status === 401 || answer.status === 403) {
    Leitai.signOut(PAGE);
    return showSignIn(answer.status === 401 ? LINK_ENDED : "此页面供评委使用。" + Leitai.errorText(answer));
  }
  if (answer.status !== 200) return say($("notice"), "error", Leitai.errorText(answer));
  desk = answer.body;
  Leitai.showSignedIn("desk");
  $("who").textContent = desk.name || "评委 " + desk.judge_id;
  await learnPlaces();
  if (!desk.sessions.length) say($("notice"), "info", "您目前没有已开始评分的场次。场次开始后，本页自动显示。");
  else if ($("notice").textContent.startsWith("您目前没有")) say($("notice"), "info", "");
  renderDesk();
}

const session = () => desk && desk.sessions.find((s) => s.session_id === chosen.session);
const entry = () => session() && session().entries.find((e) => e.entry_id === chosen.entry);
const role = (s) => s.head ? "主评委" : s.reserve ? "候补评委" : "评委";

function renderDesk() {
  const select = $("session-select");
  if (!session()) chosen = {session: desk.sessions.length ? desk.sessions[0].session_id : null, entry: null};
  const options = desk.sessions.map((s) => [s.session_id, placeOf(s) + (s.locked ? "（已锁定）" : "")]);
  if ([...select.options].map((o) => o.value + o.text).join() !== options.map(([v, t]) => v + t).join()) {
    select.replaceChildren(...options.map(([value, text]) => el("option", {value, text})));
  }
  select.value = chosen.session;
  const s = session();
  if (!s) return;
  const onStage = s.entries.find((e) => e.entry_id === s.on_stage);
  $("session-info").replaceChildren(
    el("div", {text: "您的席位：" + role(s) + "　开始时间：" + dated(s.starts_at) + "　地点：" + (s.place || s.video_room || "—")}),
    el("div", {id: "on-stage", text: s.locked ? "本场已锁定，评分不能再修改。" : onStage ? "当前上场：" + onStage.order + " 号 " + onStage.name : "本场各选手的评分均已收齐。"}));
  // updated in place, not rebuilt: the judge's focus and the element under a finger stay put
  const list = $("entries");
  const wanted = s.entries.map((e) => s.session_id + "/" + e.entry_id);
  if ([...list.children].map((li) => li.dataset.key).join() !== wanted.join()) {
    list.replaceChildren(...s.entries.map((e) => el("li", {"data-key": s.session_id + "/" + e.entry_id},
      el("button", {type: "button", "data-entry": e.entry_id, onclick: () => choose(e.entry_id)},
        el("span", {class: "who-presents", text: e.order + ". " + e.name}),
        el("span", {}, el("span", {class: "tag"}), " ", el("span", {class: "muted count"}))))));
  }
  s.entries.forEach((e, n) => {
    const li = list.children[n], button = li.querySelector("button"), [label, kind] = statusOf(s, e);
    li.className = e.entry_id === s.on_stage ? "on-stage" : "";
    if (e.entry_id === chosen.entry) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
    const badge = button.querySelector(".tag");
    badge.textContent = label;
    badge.className = "tag " + kind;
    button.querySelector(".count").textContent = "已收 " + e.received + "/" + e.expected;
  });
  if (entry()) { renderStatus(); renderSubmitted(); }
  else if (chosen.entry) { chosen.entry = null; $("sheet").classList.add("hidden"); }
}

function statusOf(s, e) {
  const outcome = outcomes[keyOf(s.session_id, e.entry_id)];
  if (e.recused) return ["回避", "recused"];
  if (waitingFor(s.session_id, e.entry_id)) return ["待发送", "pending"];
  if (outcome && outcome.refused) return ["未被接受", "refused"];
  if (e.sheet) return ["已收到 · 第" + e.sheet.revision + "次", "received"];
  if (s.locked) return ["已锁定", "locked"];
  if (!e.may_score) return ["无需评分", "recused"];
  return ["未评分", ""];
}

function renderStatus() {
  const s = session(), e = entry(), outcome = outcomes[keyOf(s.session_id, e.entry_id)];
  if (e.recused) return say($("sheet-status"), "info", "您须回避该选手，不能评分：" + e.recused);
  if (waitingFor(s.session_id, e.entry_id)) {
    return say($("sheet-status"), "info", "待发送：评分已存在本机，网络或服务恢复后自动发送，只计一次。");
  }
  if (outcome && outcome.refused) return say($("sheet-status"), "error", "评分未被接受：" + outcome.refused);
  if (e.sheet) return say($("sheet-status"), "ok", "已收到：第" + e.sheet.revision + "次提交，合计 " + points(e.sheet.total) + " 分。"
                          + (s.locked ? "本场已锁定。" : "锁定前可以修改。"));
  if (s.locked) return say($("sheet-status"), "info", "本场已锁定。");
  if (!e.may_score) return say($("sheet-status"), "info", "候补评委只在有评委回避时评分。");
  say($("sheet-status"), "info", "");
}

// beside the button: the sheet the server holds, and the way on to the next contestant
function renderSubmitted() {
  const s = session(), e = entry();
  const held = e && e.sheet && !waitingFor(s.session_id, e.entry_id);
  $("submitted").textContent = held ? "已收到 · 第" + e.sheet.revision + "次 · 合计 " + points(e.sheet.total) + " 分" : "";
  $("submitted").classList.toggle("hidden", !held);
  $("next").classList.toggle("hidden", !held || !nextEntry());
}
function nextEntry() {  // the first contestant after this one still waiting for this judge's sheet
  const s = session(), e = entry();
  return s.entries.find((x) => x.order > e.order && x.may_score && !x.recused && !x.sheet && !s.locked);
}

function choose(entryId) {
  chosen.entry = entryId;
  const s = session(), e = entry();
  $("sheet-title").textContent = e.order + " 号 " + e.name + (e.work_unit ? "（" + e.work_unit + "）" : "");
  const form = $("sheet");
  const editable = e.may_score && !s.locked;
  form.classList.toggle("hidden", !!e.recused || (!editable && !e.sheet));
  const draft = waitingFor(s.session_id, e.entry_id) || e.sheet || {scores: {}, strengths: "", suggestions: ""};
  $("criteria").replaceChildren(...s.criteria.map((c) => el("div", {},
    el("label", {for: "score-" + c.criterion_id,
                 text: c.name + "（满分 " + c.max + "，每档 " + c.step + "，权重 " + c.weight + "）"}),
    el("input", {id: "score-" + c.criterion_id, name: c.criterion_id, inputmode: "decimal", autocomplete: "off",
                 value: draft.scores[c.criterion_id] || "", disabled: !editable,
                 "aria-describedby": "error-" + c.criterion_id, oninput: showTotal}),
    el("div", {class: "field-error", id: "error-" + c.criterion_id, "aria-live": "polite"}))));
  $("strengths").value = draft.strengths || "";
  $("suggestions").value = draft.suggestions || "";
  for (const id of ["strengths", "suggestions", "submit"]) $(id).disabled = !editable;
  $("submit").textContent = e.sheet ? "提交修改" : "提交评分";
  showTotal();
  renderDesk();
}

function values() {
  return Object.fromEntries(session().criteria.map((c) => [c.criterion_id, $("score-" + c.criterion_id).value.trim()]));
}
// as the judge types: the field's problem goes as soon as it is put right, and the total is
// shown only while every score is one the stage takes
function showTotal(event) {
  const s = session(), typed = values();
  if (event && event.target && event.target.name) {
    const c = s.criteria.find((x) => x.criterion_id === event.target.name);
    const problem = c && $("error-" + c.criterion_id).textContent ? Leitai.scoreProblem(c, typed[c.criterion_id]) : null;
    if (c && !problem) { $("error-" + c.criterion_id).textContent = ""; event.target.setAttribute("aria-invalid", "false"); }
  }
  const valid = s.criteria.every((c) => !Leitai.scoreProblem(c, typed[c.criterion_id]));
  const total = valid ? Leitai.weightedTotal(s.criteria, typed) : null;
  $("total").textContent = "加权合计：" + (total === null ? "—" : total + " 分");
}

async function submit(event) {
  event.preventDefault();
  const s = session(), e = entry(), scores = values();
  let first = null;
  for (const c of s.criteria) {
    const problem = Leitai.scoreProblem(c, scores[c.criterion_id]);
    $("error-" + c.criterion_id).textContent = problem ? c.name + "：" + inChinese(problem) : "";
    $("score-" + c.criterion_id).setAttribute("aria-invalid", problem ? "true" : "false");
    if (problem && !first) first = $("score-" + c.criterion_id);
  }
  if (first) return first.focus();
  // a new submission id for what the judge asked now; a sheet still waiting is replaced by it
  // the sheet goes with its judge's token, whoever signs in on this device before it is sent
  const item = {session_id: s.session_id, entry_id: e.entry_id, submission_id: Leitai.uuid4(), scores,
                strengths: $("strengths").value, suggestions: $("suggestions").value, token: Leitai.token(PAGE)};
  keep([...outbox().filter((i) => !(i.session_id === s.session_id && i.entry_id === e.entry_id && mine(i))), item]);
  delete outcomes[keyOf(s.session_id, e.entry_id)];
  renderDesk();
  await flush();
}

// Send what waits, oldest first. No answer: keep it and try again later. A 5xx: the outcome is
// unknown, so keep it too (the same submission id makes a repeat harmless). Any other answer
// is final: the sheet was received, or refused with the API's reason.
async function flush() {
  if (flushing) return;
  flushing = true;
  let changed = false;
  try {
    for (const item of outbox()) {
      let answer;
      try {
        answer = await Leitai.call(PAGE, "PUT", "/sessions/" + encodeURIComponent(item.session_id) + "/sheets/"
                                   + encodeURIComponent(item.entry_id),
                                   {submission_id: item.submission_id, scores: item.scores,
                                    strengths: item.strengths, suggestions: item.suggestions},
                                   item.token ? {"Authorization": "Bearer " + item.token} : {});
      } catch (e) {
        if (e instanceof Leitai.Offline) { setOnline(false); return; }
        throw e;
      }
      setOnline(true);
      if (answer.status >= 500) return;
      keep(outbox().filter((i) => i.submission_id !== item.submission_id));
      changed = true;
      const key = keyOf(item.session_id, item.entry_id);
      const shown = desk && desk.sessions.find((x) => x.session_id === item.session_id);
      const row = shown && shown.entries.find((x) => x.entry_id === item.entry_id);
      if (answer.status === 200) {
        outcomes[key] = {};
        if (row) row.sheet = answer.body;
      } else {
        outcomes[key] = {refused: Leitai.errorText(answer)};
      }
    }
  } finally {
    flushing = false;
    if (changed) {
      if (desk) renderDesk();
      const e = entry();
      if (e) $("submit").textContent = e.sheet ? "提交修改" : "提交评分";
      await load();
    }
  }
}

Leitai.wireSignIn(PAGE, "desk", load);
$("session-select").addEventListener("change", (event) => {
  chosen = {session: event.target.value, entry: null};
  $("sheet").classList.add("hidden");
  $("sheet-title").textContent = "请选择选手";
  say($("sheet-status"), "info", "");
  renderDesk();
});
$("sheet").addEventListener("submit", submit);
$("next").addEventListener("click", () => { const n = nextEntry(); if (n) choose(n.entry_id); });
window.addEventListener("online", flush);
showWaiting();
load().then(flush);
setInterval(flush, 2000);
setInterval(load, 3000);
