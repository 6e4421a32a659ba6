"use strict";
// The organiser's console: every figure and every action is a call to the documented API with
// the organiser's token; the console decides nothing the API does not.
const PAGE = "console";
const $ = (id) => document.getElementById(id);
const {el, say} = Leitai;
const enc = encodeURIComponent;
let contests = [], contestView = null;
const TIEBREAKS = {median_total: "全部评分的中位数", lot: "抽签", entry_id: "参赛编号"};
const STATUS = {pending: "待发送", sending: "发送中", sent: "已发送", failed: "失败", undeliverable: "无法送达"};
const CHANNELS = {email: "邮件", sms: "短信", inbox: "站内信"};
const KINDS = {  // services/notify/templates: one a kind
  registration_confirmed: "报名确认", session_notice: "场次通知", session_reminder: "场次提醒", judge_seated: "评委安排",
  tolerance_flag: "评分偏差提示", comments: "评委点评", stage_result: "成绩通知", result_corrected: "成绩更正",
  sheet_corrected: "评分更正", appeal_received: "申诉受理", appeal_decided: "申诉结果", advancement_followed: "晋级调整",
  advancement_referred: "晋级变动待决定", advancement_decided: "晋级变动决定", meeting_evaluator: "交流会点评安排"};
const REFRESH_S = 15;  // the console follows scoring by itself: a refresh every so often while in view
const judgeName = (id) => ((contestView && contestView.judges || []).find((j) => j.judge_id === id) || {}).name || id;
const names = (ids) => ids.map(judgeName).join("、");
// dates as people write them: 12月5日 09:00
// a notice's failure in words a county official can act on (notify's reasons are the channel's)
function reason(d) {
  if (!["failed", "undeliverable"].includes(d.status) || !d.last_error) return "";
  const text = d.last_error;
  if (text.startsWith("no e-mail")) return "没有邮箱地址";
  if (text.startsWith("no phone")) return "没有手机号码";
  const tries = /^gave up after (\d+) attempts/.exec(text);
  const why = /ECONNREFUSED|Connection refused|timed out|URLError|OSError/.test(text) ? "邮件或短信服务连接不上"
    : /SMS gateway 4|SMTP 5/.test(text) ? "服务拒收（号码或地址可能有误）" : "发送出错";
  return (tries ? "发送 " + tries[1] + " 次均未成功：" : "") + why;
}

async function api(method, path, body) {
  const answer = await Leitai.connected(PAGE, method, path, body);
  if (answer && (answer.status === 401 || answer.status === 403) && method === "GET" && path === "/me") {
    Leitai.signOut(PAGE);
    showSignIn("此页面供组织方和纪检监督人员使用。" + Leitai.errorText(answer));
  }
  return answer;
}
const showSignIn = (message) => Leitai.showSignIn("console", message);
const contestId = () => $("contest-select").value;
const stageId = () => $("stage-select").value;

let me = {};  // the grant signed in (GET /me): an organiser runs the contest, a supervisor decides
const organiser = () => me.role === "organiser";

async function start() {
  if (!Leitai.token(PAGE)) return showSignIn();
  const who = await api("GET", "/me");
  if (!who || who.status !== 200) return;
  if (!["organiser", "supervisor"].includes(who.body.role)) {
    Leitai.signOut(PAGE);
    return showSignIn("此页面供组织方和纪检监督人员使用；评委请用评委邀请链接登录评分页。");
  }
  me = who.body;
  if (organiser() && new URLSearchParams(location.search).get("then") === "setup") return location.replace("/console/setup");
  document.body.dataset.role = me.role;
  if (!organiser()) document.querySelector("header h1").textContent = "擂台比武 · 纪检监督（申诉与复核）";
  const answer = await api("GET", "/contests");
  if (!answer) return;
  if (answer.status !== 200) return say($("notice"), "error", Leitai.errorText(answer));
  contests = answer.body.contests;
  Leitai.showSignedIn("console");
  $("console").classList.toggle("hidden", !contests.length);  // nothing to run yet: only the way to set one up
  $("to-setup").classList.toggle("hidden", !organiser());
  $("notice").replaceChildren(contests.length ? "" : el("div", {class: "message info", role: "status"}, "还没有比武。",
    organiser() ? el("a", {href: "/console/setup", text: "新建一场比武"}) : ""));
  const wanted = new URLSearchParams(location.search).get("contest") || contestId();
  $("contest-select").replaceChildren(...contests.map((c) => el("option", {value: c.contest_id,
    selected: c.contest_id === wanted, text: c.name, title: c.contest_id})));
  await chooseContest();
}

async function chooseContest() {
  const contest = contests.find((c) => c.contest_id === contestId());
  if (!contest) return;
  $("to-setup").href = "/console/setup?contest=" + enc(contest.contest_id);
  $("invitation-cards").replaceChildren();  // another contest's links are not this one's to print
  $("print-invitations").disabled = true;
  const wanted = stageId() || new URLSearchParams(location.search).get("stage");
  $("stage-select").replaceChildren(...contest.stages.map((s) => el("option", {value: s.stage_id,
    selected: s.stage_id === wanted, text: s.name + (s.published_version ? "（已公布）" : "")})));
  followStage();
  await refresh();
}

// One refresh at a time, in the order asked: a refresh the stream started must not finish after
// (and draw over) the one a lock started later, with what it read before the lock.
let refreshing = Promise.resolve();
function refresh(options = {}) {
  refreshing = refreshing.then(() => load(options), () => load(options));
  return refreshing;
}

async function load({followed = false} = {}) {
  const answer = await api("GET", "/contests/" + enc(contestId()));
  if (!answer) return;
  if (answer.status !== 200) return say($("stage-notice"), "error", Leitai.errorText(answer));
  contestView = answer.body;
  // one after another: each read may wait for the write just made, and the gateway lets a client
  // wait in only two requests at once (waits_per_client); beyond, it answers "not yet" at once
  if (organiser()) {  // the supervisor's console is the appeals and corrections alone
    await renderSessions();
    await renderStandings();
    await renderDeliveries();
    await renderInvitations();
    renderChanges();
  }
  await renderReviews();
  // for whoever waits on a refresh they asked for (a refresh of its own accord is not counted)
  if (!followed) document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
}

// -- sessions: sheets in, flags to review, missing sheets, the lock ----------------------------
async function renderSessions() {
  const sessions = contestView.sessions.filter((s) => s.stage_id === stageId());
  const box = $("sessions");
  if (!sessions.length) return box.replaceChildren(el("p", {class: "muted", text: "本轮还没有安排场次。"}));
  const cards = [];
  for (const s of sessions) cards.push(await sessionCard(s));  // one at a time, as above
  // what someone typed (a lock's reason) and where, kept across the re-render: a refresh that
  // began before they started typing must not wipe it when it lands
  const typed = [...box.querySelectorAll("input[id]")].filter((i) => i.value).map((i) => [i.id, i.value]);
  const focused = box.contains(document.activeElement) ? document.activeElement.id : "";
  box.replaceChildren(...cards);
  for (const [id, value] of typed) if ($(id)) $(id).value = value;
  if (focused && $(focused)) $(focused).focus();
}

async function sessionCard(s) {
  const card = el("section", {class: "card", "data-session": s.session_id, "aria-label": "场次 " + s.session_id});
  const title = el("h3", {text: groupName(s.group_id) + "　" + Leitai.dated(s.starts_at) + (s.place ? "　" + s.place : "")});
  if (!s.opened) {
    card.append(title, el("p", {class: "muted", text: s.order && s.order.length ? "已抽签，未开始评分" : "未开始"}));
    return card;
  }
  const answer = await api("GET", "/sessions/" + enc(s.session_id) + "/scoring");
  if (!answer || answer.status !== 200) {
    card.append(title, el("div", {class: "message error", text: answer ? Leitai.errorText(answer) : "无法连接服务"}));
    return card;
  }
  const status = answer.body;
  title.append(el("span", {class: "tag " + (status.locked ? "locked" : "received"), text: status.locked ? " 已锁定" : " 评分中"}),
    " ", el("a", {href: "/hall/" + enc(s.session_id), target: "_blank", rel: "noopener", text: "现场亮分大屏"}));
  const rows = status.entries.map((e) => el("tr", {"data-entry": e.entry_id},
    el("td", {text: String(e.order)}), el("td", {text: e.name}),
    el("td", {class: "received-count", text: e.sheets.length + " / " + (e.sheets.length + e.missing.length)}),
    el("td", {text: e.open_flags.length ? names(e.open_flags) + "：评分偏差超出容差，待核" : "—"}),
    el("td", {text: e.missing.length ? names(e.missing) : "—"})));
  const count = (key) => status.entries.reduce((n, e) => n + e[key].length, 0);
  const summary = status.entries.length + " 名选手；已收评分 " + count("sheets") + " / " + (count("sheets") + count("missing"))
    + "；偏差待核 " + count("open_flags") + "；缺评 " + count("missing");
  // a session under way is open; a locked one folds to its summary line
  card.append(title, el("details", {open: !status.locked}, el("summary", {text: summary}), el("table", {tabindex: "0"},
    el("thead", {}, el("tr", {}, ...["顺序", "选手", "已收评分", "偏差提示", "缺评"].map((h) => el("th", {text: h})))),
    el("tbody", {}, ...rows))));
  if (!status.locked) {
    const reasonId = "reason-" + s.session_id, notice = el("div", {});
    const reason = el("input", {id: reasonId, maxlength: "1000"});
    const lock = el("button", {type: "button", class: "lock", onclick: async () => {
      const flagged = status.entries.filter((e) => e.open_flags.length).length;
      const gaps = status.entries.filter((e) => e.missing.length).length;
      const open = [flagged ? flagged + " 位选手的评分偏差待核" : "",
                    gaps ? gaps + " 位选手缺评（按已收到的评分计算，去掉最高、最低分的规则可能随之不同）" : ""]
        .filter(Boolean).join("；");
      if (!confirm("锁定“" + groupName(s.group_id) + "”这一场后，评委不能再提交或修改评分，各选手的得分随即算定。"
                   + "之后只能经复核更正。" + (open ? "\n注意：" + open + "。" : "") + "确定锁定吗？")) return;
      lock.disabled = true;
      const body = reason.value.trim() ? {override_reason: reason.value.trim()} : {};
      const done = await api("POST", "/sessions/" + enc(s.session_id) + "/lock", body);
      lock.disabled = false;
      if (!done) return say(notice, "error", "无法连接服务，请稍后再试。");
      if (done.status !== 200) return say(notice, "error", lockRefusal(done, status));
      say($("stage-notice"), "ok", "“" + groupName(s.group_id) + "”已锁定，" + done.body.results.length + " 名选手的得分已计算。");
      await refresh();
    }, text: "锁定本场"});
    card.append(el("div", {class: "row"},
      el("div", {class: "grow"}, el("label", {for: reasonId, text: "越过提示锁定的理由（有偏差或缺评时必填）"}), reason),
      lock), notice);
  }
  return card;
}

// a lock refused for what is still open: who, in names, and what to do
function lockRefusal(answer, status) {
  const details = (answer.body && answer.body.error && answer.body.error.details) || {};
  if (!details.open_flags && !details.missing_sheets) return Leitai.errorText(answer);
  const entryName = (id) => (status.entries.find((e) => e.entry_id === id) || {}).name || id;
  const list = (by) => Object.entries(by || {}).map(([e, judges]) => entryName(e) + "（" + names(judges) + "）").join("、");
  const parts = [details.open_flags && Object.keys(details.open_flags).length ? "评分偏差待核：" + list(details.open_flags) : "",
                 details.missing_sheets && Object.keys(details.missing_sheets).length ? "缺评：" + list(details.missing_sheets) : ""];
  return "本场尚未锁定。" + parts.filter(Boolean).join("；") + "。请先核实，或在“越过提示锁定的理由”中写明理由后再锁定。";
}

// -- standings, publication and exports ------------------------------------------------------
async function renderStandings() {
  const answer = await api("GET", "/contests/" + enc(contestId()) + "/stages/" + enc(stageId()) + "/leaderboard");
  const body = $("standings");
  if (!answer) return;
  if (answer.status !== 200) {
    $("standings-caption").textContent = "";
    return body.replaceChildren(el("tr", {}, el("td", {colspan: "6", class: "muted", text: Leitai.errorText(answer)})));
  }
  const board = answer.body;
  $("standings-caption").textContent = (board.published ? "已公布" : "实时（未公布）") + "：" + board.name
    + (!board.published && !board.standings.length ? "。各场锁定后显示得分；评分进度见上方各场次与“现场亮分大屏”。" : "");
  $("publish").disabled = board.published;
  body.replaceChildren(...board.standings.map((r) => el("tr", {"data-entry": r.entry_id},
    el("td", {text: "第" + r.rank + "名"}), el("td", {text: r.name}), el("td", {text: groupName(r.group_id)}),
    el("td", {text: r.stage_score}), el("td", {text: r.advanced ? "晋级" : ""}),
    el("td", {class: "decided-by", text: tiebreak(r.decided_by)}))));
}
function groupName(groupId) {
  const stage = contestView.stages.find((s) => s.stage_id === stageId());
  const group = stage && stage.groups.find((g) => g.group_id === groupId);
  return group ? group.name : groupId;
}
function tiebreak(rule) {
  if (!rule) return "—";
  if (rule.startsWith("criterion:")) return "评分项 " + rule.slice(10) + " 的平均分";
  return TIEBREAKS[rule] || rule;
}

$("publish").addEventListener("click", async () => {
  const stage = contestView.stages.find((s) => s.stage_id === stageId());
  if (!confirm("公布“" + (stage ? stage.name : stageId()) + "”的成绩后，名次和晋级名单对所有人公开，选手将收到成绩通知，"
               + "晋级者进入下一轮。公布后只能经复核更正。确定公布吗？")) return;
  const answer = await api("POST", "/contests/" + enc(contestId()) + "/stages/" + enc(stageId()) + "/results");
  if (!answer) return say($("publish-notice"), "error", "无法连接服务，请稍后再试。");
  if (answer.status !== 201) return say($("publish-notice"), "error", Leitai.errorText(answer));
  say($("publish-notice"), "ok", "已公布：" + answer.body.standings.filter((r) => r.advanced).length + " 人晋级。");
  await refresh();
});

async function download(kind) {
  const path = "/contests/" + enc(contestId()) + "/stages/" + enc(stageId()) + "/results." + kind;
  const answer = await api("GET", path);
  if (!answer) return say($("publish-notice"), "error", "无法连接服务，请稍后再试。");
  if (answer.status !== 200) return say($("publish-notice"), "error", Leitai.errorText(answer));
  const stage = contestView.stages.find((s) => s.stage_id === stageId());  // named as the contest and stage are
  Leitai.saveAs(answer.body, contestView.name + "-" + (stage ? stage.name : stageId()) + "-成绩." + kind);
}
$("export-csv").addEventListener("click", () => download("csv"));
$("export-xlsx").addEventListener("click", () => download("xlsx"));

// -- changes of who advances waiting for a decision -------------------------------------------
function renderChanges() {
  const waiting = (contestView.advancement_changes || []).filter((c) => c.status === "referred");
  $("changes").replaceChildren(...(waiting.length ? [el("h2", {text: "待决定的晋级变动"})] : []), ...waiting.map((c) => {
    const action = el("select", {id: "action-" + c.change_id},
      el("option", {value: "keep", text: "维持原晋级名单（keep）"}),
      el("option", {value: "admit", text: "增补新晋级者，原名单保留（admit）"}),
      el("option", {value: "follow", text: "按更正调整（follow）"}));
    const reason = el("input", {id: "change-reason-" + c.change_id, maxlength: "2000"});
    const notice = el("div", {});
    return el("section", {class: "card"},
      el("p", {text: "更正 " + c.change_id + " 后：应晋级 " + (c.gained.map((w) => w.name).join("、") || "—")
                     + "；不应晋级 " + (c.lost.map((w) => w.name).join("、") || "—") + "。已开始的场次："
                     + c.opened_sessions.join("、")}),
      el("div", {class: "row"},
        el("div", {}, el("label", {for: action.id, text: "决定"}), action),
        el("div", {class: "grow"}, el("label", {for: reason.id, text: "理由"}), reason),
        el("button", {type: "button", text: "记录决定", onclick: async () => {
          const answer = await api("POST", "/contests/" + enc(contestId()) + "/advancement-changes/" + enc(c.change_id)
                                   + "/decision", {action: action.value, reason: reason.value});
          if (!answer) return say(notice, "error", "无法连接服务，请稍后再试。");
          if (answer.status !== 200) return say(notice, "error", Leitai.errorText(answer));
          await refresh();
        }})), notice);
  }));
}

// -- judges' invitations: a sign-in link and its QR code for each judge ------------------------
const LINK_STATUS = {active: "有效", expired: "已过期", revoked: "已作废"};
let grantsOf = {};  // judge id -> their latest grant of this contest

const invitationsReading = Leitai.latest();
async function renderInvitations() {
  const superseded = invitationsReading();
  const answer = await api("GET", "/contests/" + enc(contestId()) + "/invitations");
  if (superseded() || !answer) return;
  if (answer.status !== 200) return say($("invite-notice"), "error", Leitai.errorText(answer));
  grantsOf = {};
  for (const g of answer.body.invitations) if (g.role === "judge") grantsOf[g.id] = g;  // oldest first: the last wins
  const judges = contestView.judges || [];
  say($("invite-notice"), "info", judges.length ? "" : "本比武还没有登记评委。");
  $("judges").replaceChildren(...judges.map((j) => {
    const grant = grantsOf[j.judge_id];
    const state = !grant ? "未邀请" : grant.status === "active" ? "有效，至 " + Leitai.dated(grant.expires_at, true)
      : LINK_STATUS[grant.status] + (grant.revoke_reason ? "（" + grant.revoke_reason + "）" : "");
    const active = grant && grant.status === "active";
    return el("tr", {"data-judge": j.judge_id},
      el("td", {text: j.name}), el("td", {class: "id", text: j.judge_id}), el("td", {class: "link-status", text: state}),
      el("td", {}, el("div", {class: "row"},
        el("button", {type: "button", class: "secondary", text: active ? "重新生成链接" : "生成链接",
          onclick: () => invite([j], active)}),
        active ? el("button", {type: "button", class: "secondary", text: "作废",
          onclick: () => revoke(j, grant)}) : "")));
  }));
}

async function invite(judges, replacing) {
  if (replacing && !confirm("重新生成后，" + judges[0].name + "原来的链接将立即失效。继续吗？")) return;
  const cards = [];
  for (const j of judges) {  // one after another, as every write here
    const answer = await api("POST", "/contests/" + enc(contestId()) + "/invitations",
                             {role: "judge", id: j.judge_id, base_url: location.origin});
    if (!answer) return say($("invite-notice"), "error", "无法连接服务，请稍后再试。");
    if (answer.status !== 201) return say($("invite-notice"), "error", j.name + "：" + Leitai.errorText(answer));
    cards.push(invitationCard(j, answer.body));
  }
  $("invitation-cards").append(...cards);
  $("print-invitations").disabled = false;
  say($("invite-notice"), "ok", "已为 " + judges.map((j) => j.name).join("、") + " 生成登录链接。链接只显示这一次："
      + "请现在打印或发给评委，离开本页后无法再查看。");
  await renderInvitations();
}

function invitationCard(judge, invitation) {
  const canvas = el("canvas", {"aria-label": judge.name + " 的登录二维码", role: "img"});
  drawQr(canvas, invitation.qr);
  return el("div", {class: "invitation", "data-judge": judge.judge_id},
    el("h3", {text: contestView.name}), el("p", {text: "评委：" + judge.name}),
    canvas, el("p", {class: "muted", text: "请用手机或平板扫码进入评分页。有效至 " + Leitai.dated(invitation.expires_at, true)}),
    el("p", {class: "link", text: invitation.link}));
}

function drawQr(canvas, rows) {  // the code's modules, with the quiet zone of 4 the standard asks
  const quiet = 4, scale = 6, size = (rows.length + 2 * quiet) * scale;
  canvas.width = canvas.height = size;
  const pen = canvas.getContext("2d");
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, size, size);
  pen.fillStyle = "#000";
  rows.forEach((row, y) => [...row].forEach((dark, x) => {
    if (dark === "1") pen.fillRect((x + quiet) * scale, (y + quiet) * scale, scale, scale);
  }));
}

async function revoke(judge, grant) {
  const reason = prompt("作废 " + judge.name + " 的登录链接：请写明原因（例如“评委更换”）");
  if (reason === null) return;
  if (!reason.trim()) return say($("invite-notice"), "error", "作废需要写明原因。");
  const answer = await api("POST", "/contests/" + enc(contestId()) + "/invitations/" + enc(grant.grant_id)
                           + "/revocation", {reason: reason.trim()});
  if (!answer) return say($("invite-notice"), "error", "无法连接服务，请稍后再试。");
  if (answer.status !== 200) return say($("invite-notice"), "error", Leitai.errorText(answer));
  say($("invite-notice"), "ok", judge.name + " 的登录链接已作废；重新生成即可发新链接。");
  await renderInvitations();
}

$("invite-all").addEventListener("click", () => {
  const waiting = (contestView.judges || []).filter((j) => !grantsOf[j.judge_id] || grantsOf[j.judge_id].status !== "active");
  if (!waiting.length) return say($("invite-notice"), "info", "每位评委都有有效的链接。要换新链接，请在该评委一行点“重新生成链接”。");
  invite(waiting, false);
});
$("print-invitations").addEventListener("click", () => window.print());

// -- notices and their deliveries --------------------------------------------------------------
const deliveriesReading = Leitai.latest();
async function renderDeliveries() {
  const superseded = deliveriesReading();
  const status = $("delivery-status").value, label = $("delivery-status").selectedOptions[0].text;
  const answer = await api("GET", "/contests/" + enc(contestId()) + "/deliveries" + (status ? "?status=" + status : ""));
  if (superseded()) return;  // the filter changed, or the page refreshed, meanwhile
  if (!answer) return;
  if (answer.status !== 200) return say($("delivery-notice"), "error", Leitai.errorText(answer));
  const all = answer.body.deliveries, shown = showAllDeliveries ? all : all.slice(0, 50);
  failedNow = all.filter((d) => d.status === "failed");
  $("retry-all").disabled = !failedNow.length;
  $("retry-all").textContent = failedNow.length ? "全部重新发送（" + failedNow.length + " 条失败）" : "全部重新发送";
  $("more-deliveries").classList.toggle("hidden", all.length <= shown.length);
  say($("delivery-notice"), "info", all.length ? "共 " + all.length + " 条" + (all.length > shown.length ? "，显示前 50 条" : "")
      : "没有" + (status ? "“" + label + "”的" : "") + "通知。");
  $("deliveries").replaceChildren(...shown.map((d) => el("tr", {"data-delivery": d._id},
    el("td", {text: d.name || d.recipient_id}), el("td", {text: KINDS[d.kind] || d.kind}),
    el("td", {text: CHANNELS[d.channel] || d.channel}),
    el("td", {text: STATUS[d.status] || d.status}), el("td", {text: String(d.attempts)}),
    el("td", {text: reason(d)}),
    el("td", {}, d.status === "failed" ? el("button", {type: "button", class: "secondary", text: "重新发送",
      onclick: async () => {
        const done = await api("POST", "/contests/" + enc(contestId()) + "/deliveries/" + enc(d._id) + "/retry");
        if (!done || done.status !== 200) return say($("delivery-notice"), "error", done ? Leitai.errorText(done) : "无法连接服务");
        say($("delivery-notice"), "ok", "已重新排队发送。");
        await renderDeliveries();
      }}) : ""))));
}

let failedNow = [], showAllDeliveries = false;
$("more-deliveries").addEventListener("click", () => { showAllDeliveries = true; renderDeliveries(); });
$("retry-all").addEventListener("click", async () => {
  const button = $("retry-all"), waiting = failedNow.slice();
  if (!confirm("将 " + waiting.length + " 条发送失败的通知重新排队发送。继续吗？")) return;
  button.disabled = true;
  let done = 0;
  for (const d of waiting) {  // one after another: each a write
    say($("delivery-notice"), "info", "正在重新排队：" + done + " / " + waiting.length);
    const answer = await api("POST", "/contests/" + enc(contestId()) + "/deliveries/" + enc(d._id) + "/retry");
    if (!answer || answer.status !== 200) {
      say($("delivery-notice"), "error", "已重新排队 " + done + " 条，其余未完成：" + (answer ? Leitai.errorText(answer) : "无法连接服务"));
      return renderDeliveries();
    }
    done += 1;
  }
  say($("delivery-notice"), "ok", "已将 " + done + " 条失败的通知重新排队发送。");
  await renderDeliveries();
});

// The console follows by itself, while it is in view and nobody is typing: at once when the
// stage's live stream (the big screen's, SSE) says a sheet, a lock or a result came in, and every
// REFRESH_S for what the stream does not carry (notices, appeals).
let following = false, live = null, soon = null;
async function followUp(why) {
  const typing = document.activeElement && ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (following || !contestView || document.hidden || typing || !Leitai.token(PAGE)) return;
  following = true;
  try {
    await refresh({followed: true});
    if (why === "stream") document.body.dataset.streamed = String(Number(document.body.dataset.streamed || 0) + 1);
  } finally { following = false; }
}
setInterval(() => followUp("clock"), REFRESH_S * 1000);

function followStage() {
  if (live) live.close();
  live = null;
  if (!organiser() || !contestId() || !stageId()) return;  // the stream is the organisers' and screens'
  live = LeitaiScreen.open("/live/" + enc(contestId()) + "/" + enc(stageId()), PAGE, () => {});
  live.onmessage = () => {  // a burst of sheets: one refresh a second at most
    if (!soon) soon = setTimeout(() => { soon = null; followUp("stream"); }, 1000);
  };
}

Leitai.wireSignIn(PAGE, "console", start);
$("contest-select").addEventListener("change", () => { $("stage-select").value = ""; chooseContest(); });
$("stage-select").addEventListener("change", () => { followStage(); refresh(); });
$("refresh").addEventListener("click", refresh);
$("delivery-status").addEventListener("change", renderDeliveries);
document.addEventListener("DOMContentLoaded", start);  // once reviews.js, loaded after this, is there too
