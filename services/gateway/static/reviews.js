"use strict";
// 申诉与复核 on the console: a stage's appeals and the corrections of its sessions' sheets, for
// the organisers and the supervisor (纪检). One person proposes a correction and another
// approves it (the API refuses the proposer's own approval; the page does not offer it). Loaded
// before console.js, whose contest, stage and api it uses when it renders.
const APPEAL_DECISION = {upheld: "支持申诉", dismissed: "不予支持"};
const CORRECTION_KIND = {change_score: "改分", void_sheet: "作废评分表", add_sheet: "补录评分表"};
const CORRECTION_STATUS = {proposed: "待另一人批准", approved: "已批准，已生效", rejected: "已驳回", withdrawn: "已撤回"};
let reviewSessions = [], appealsNow = [];

// the stage's sessions that have begun: corrections are of their sheets
const begun = () => contestView.sessions.filter((s) => s.stage_id === stageId() && s.opened);
const entryName = (id) => ((contestView.entries || []).find((e) => e.entry_id === id) || {}).name || id;

const reviewsReading = Leitai.latest();
async function renderReviews() {
  const superseded = reviewsReading();
  const path = "/contests/" + enc(contestId()) + "/stages/" + enc(stageId()) + "/appeals";
  const appeals = await api("GET", path);
  if (superseded() || !appeals) return;
  if (appeals.status !== 200) return say($("reviews-notice"), "error", Leitai.errorText(appeals));
  appealsNow = appeals.body.appeals;
  $("appeals").replaceChildren(...(appealsNow.length ? appealsNow.map(appealRow)
    : [el("tr", {}, el("td", {colspan: "4", class: "muted", text: "本轮没有申诉。"}))]));
  reviewSessions = [];
  const rows = [];
  for (const session of begun()) {  // one after another, as the console's other reads
    const answer = await api("GET", "/sessions/" + enc(session.session_id) + "/corrections");
    if (superseded()) return;
    if (!answer || answer.status !== 200) continue;
    reviewSessions.push(session);
    rows.push(...answer.body.corrections.map((c) => correctionRow(session, c)));
  }
  $("corrections").replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", {colspan: "7", class: "muted", text: "本轮没有评分更正。"}))]));
  fillProposal();
}

function appealRow(a) {
  const state = a.status === "decided" ? APPEAL_DECISION[a.decision] + "（" + a.decision_reason + "）" : "待决定";
  const reasonId = "appeal-reason-" + a.appeal_id, notice = el("div", {});
  const decide = (decision) => async () => {
    const reason = $(reasonId).value.trim();
    if (!reason) return say(notice, "error", "请写明决定的理由。");
    if (!confirm("对 " + a.name + " 的申诉作出决定：" + APPEAL_DECISION[decision] + "。决定后不能更改；"
                 + (decision === "upheld" ? "支持申诉后，请提出相应的评分更正，经另一人批准后重新公布成绩。" : "") + "确定吗？")) return;
    const answer = await api("POST", "/contests/" + enc(contestId()) + "/stages/" + enc(stageId()) + "/appeals/"
                             + enc(a.appeal_id) + "/decision", {decision, reason});
    if (!answer || answer.status !== 200) return say(notice, "error", answer ? Leitai.errorText(answer) : "无法连接服务");
    await renderReviews();
  };
  return el("tr", {"data-appeal": a.appeal_id}, el("td", {text: a.name}), el("td", {text: a.reason}),
    el("td", {text: state}),
    el("td", {}, a.status === "decided" ? "" : el("div", {},
      el("label", {for: reasonId, text: "决定理由"}), el("input", {id: reasonId, maxlength: "2000"}),
      el("div", {class: "row"},
        el("button", {type: "button", class: "secondary", text: "支持申诉", onclick: decide("upheld")}),
        el("button", {type: "button", class: "secondary", text: "不予支持", onclick: decide("dismissed")})), notice)));
}

function correctionRow(session, c) {
  const mine = c.proposed_by === me.id, notice = el("div", {}), reasonId = "correction-reason-" + c.correction_id;
  const decide = (action) => async () => {
    const reason = $(reasonId).value.trim();
    if (action === "reject" && !reason) return say(notice, "error", "驳回需要写明理由。");
    const words = {approve: "批准后更正立即生效，本轮成绩随之重新计算并重新公布", reject: "驳回后这项更正不再生效",
                   withdraw: "撤回后这项更正不再生效"}[action];
    if (!confirm(words + "。确定吗？")) return;
    const answer = await api("POST", "/sessions/" + enc(session.session_id) + "/corrections/" + enc(c.correction_id)
                             + "/decision", reason ? {action, reason} : {action});
    if (!answer || answer.status !== 200) return say(notice, "error", answer ? Leitai.errorText(answer) : "无法连接服务");
    await refresh();
  };
  const change = c.kind === "void_sheet" ? "作废" : Object.entries(c.scores || {}).map(([k, v]) => criterionName(k) + " " + v).join("，");
  return el("tr", {"data-correction": c.correction_id},
    el("td", {text: entryName(c.entry_id)}), el("td", {text: judgeName(c.judge_id)}),
    el("td", {text: CORRECTION_KIND[c.kind] + (change ? "：" + change : "")}), el("td", {text: c.reason}),
    el("td", {}, el("span", {class: "id", text: c.proposed_by}), mine ? "（本人）" : ""),  // a grant's holder: no name
    el("td", {}, CORRECTION_STATUS[c.status], ...(c.decided_by ? ["（", el("span", {class: "id", text: c.decided_by}), "）"] : [])),
    el("td", {}, c.status !== "proposed" ? "" : el("div", {},
      el("label", {for: reasonId, text: mine ? "撤回理由（可不填）" : "理由（驳回时必填）"}),
      el("input", {id: reasonId, maxlength: "2000"}),
      el("div", {class: "row"}, ...(mine
        ? [el("button", {type: "button", class: "secondary", text: "撤回", onclick: decide("withdraw")}),
           el("span", {class: "muted", text: "须由另一人批准"})]
        : [el("button", {type: "button", class: "secondary", text: "批准", onclick: decide("approve")}),
           el("button", {type: "button", class: "secondary", text: "驳回", onclick: decide("reject")})])), notice)));
}

function criterionName(id) {
  const stage = contestView.stages.find((s) => s.stage_id === stageId());
  return ((stage && stage.criteria.find((c) => c.criterion_id === id)) || {}).name || id;
}

// -- the organisers' own: filing an appeal, proposing a correction --------------------------
function fillProposal() {
  const entries = [...new Set(begun().flatMap((s) => s.order || []))];
  const keep = (id) => $(id).value;
  const options = (id, items) => {
    const was = keep(id);
    $(id).replaceChildren(...items.map(([value, text]) => el("option", {value, text, selected: value === was})));
  };
  options("appeal-entry", entries.map((e) => [e, entryName(e)]));
  options("correction-session", reviewSessions.map((s) => [s.session_id, groupName(s.group_id) + "　" + Leitai.dated(s.starts_at)]));
  const session = reviewSessions.find((s) => s.session_id === $("correction-session").value);
  options("correction-entry", (session ? session.order : []).map((e) => [e, entryName(e)]));
  options("correction-judge", (session ? session.seats : []).map((s) => [s.judge_id, judgeName(s.judge_id) + (s.reserve ? "（候补）" : "")]));
  const entry = $("correction-entry").value;
  options("correction-appeal", [["", "不针对申诉"], ...appealsNow.filter((a) => a.entry_id === entry)
    .map((a) => [a.appeal_id, "申诉：" + a.reason.slice(0, 30)])]);
  const stage = contestView.stages.find((s) => s.stage_id === stageId());
  const wanted = $("correction-kind").value !== "void_sheet" && stage ? stage.criteria : [];
  const shown = [...document.querySelectorAll("#correction-scores input")].map((i) => i.dataset.criterion);
  if (shown.join() === wanted.map((c) => c.criterion_id).join()) return;  // what is typed there stays
  $("correction-scores").replaceChildren(...wanted.map((c) => el("div", {},
    el("label", {for: "correction-score-" + c.criterion_id, text: c.name + "（满分 " + c.max + "）"}),
    el("input", {id: "correction-score-" + c.criterion_id, inputmode: "decimal", "data-criterion": c.criterion_id}))));
}

async function fileAppeal(event) {
  event.preventDefault();
  const reason = $("appeal-reason").value.trim();
  if (!$("appeal-entry").value || !reason) return say($("reviews-notice"), "error", "请选择选手并写明申诉理由。");
  const answer = await api("POST", "/contests/" + enc(contestId()) + "/stages/" + enc(stageId()) + "/appeals",
                           {appeal_id: Leitai.uuid4(), entry_id: $("appeal-entry").value, reason});
  if (!answer || answer.status !== 201) return say($("reviews-notice"), "error", answer ? Leitai.errorText(answer) : "无法连接服务");
  $("appeal-reason").value = "";
  say($("reviews-notice"), "ok", "已登记 " + answer.body.name + " 的申诉，并通知本人。");
  await renderReviews();
}

async function proposeCorrection(event) {
  event.preventDefault();
  const kind = $("correction-kind").value, reason = $("correction-reason").value.trim();
  const scores = Object.fromEntries([...document.querySelectorAll("#correction-scores input")]
    .map((i) => [i.dataset.criterion, i.value.trim()]));
  if (!reason) return say($("reviews-notice"), "error", "请写明更正理由。");
  if (kind !== "void_sheet" && Object.values(scores).some((v) => !v)) return say($("reviews-notice"), "error", "请填写每一项的分数。");
  const body = {correction_id: Leitai.uuid4(), kind, entry_id: $("correction-entry").value,
                judge_id: $("correction-judge").value, reason, ...(kind === "void_sheet" ? {} : {scores}),
                ...($("correction-appeal").value ? {appeal_id: $("correction-appeal").value} : {})};
  const answer = await api("POST", "/sessions/" + enc($("correction-session").value) + "/corrections", body);
  if (!answer || answer.status !== 201) return say($("reviews-notice"), "error", answer ? Leitai.errorText(answer) : "无法连接服务");
  $("correction-reason").value = "";
  say($("reviews-notice"), "ok", "已提出更正，须由另一名组织方人员或纪检监督人员批准后生效。");
  await renderReviews();
}

$("appeal-form").addEventListener("submit", fileAppeal);
$("correction-form").addEventListener("submit", proposeCorrection);
for (const id of ["correction-session", "correction-entry", "correction-kind"]) $(id).addEventListener("change", fillProposal);
