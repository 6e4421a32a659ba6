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

async function api(method, path, body) {
  try {
    const answer = await Leitai.call(PAGE, method, path, body);
    setOnline(true);
    if (answer.status === 401 || answer.status === 403) {
      if (method === "GET" && path === "/contests") {
        Leitai.signOut(PAGE);
        showSignIn("此页面供组织方使用。" + Leitai.errorText(answer));
      }
    }
    return answer;
  } catch (e) {
    if (e instanceof Leitai.Offline) { setOnline(false); return null; }
    throw e;
  }
}
const setOnline = (online) => Leitai.network(online, "无法连接服务", "refused");
const showSignIn = (message) => Leitai.showSignIn("console", message);
const contestId = () => $("contest-select").value;
const stageId = () => $("stage-select").value;

async function start() {
  if (!Leitai.token(PAGE)) return showSignIn();
  const answer = await api("GET", "/contests");
  if (!answer || answer.status !== 200) return;
  contests = answer.body.contests;
  Leitai.showSignedIn("console");
  say($("notice"), "info", contests.length ? "" : "还没有比武。");
  const wanted = new URLSearchParams(location.search).get("contest") || contestId();
  $("contest-select").replaceChildren(...contests.map((c) => el("option", {value: c.contest_id,
    selected: c.contest_id === wanted, text: c.name + "（" + c.contest_id + "）"})));
  await chooseContest();
}

async function chooseContest() {
  const contest = contests.find((c) => c.contest_id === contestId());
  if (!contest) return;
  const wanted = stageId() || new URLSearchParams(location.search).get("stage");
  $("stage-select").replaceChildren(...contest.stages.map((s) => el("option", {value: s.stage_id,
    selected: s.stage_id === wanted, text: s.name + (s.published_version ? "（已公布）" : "")})));
  await refresh();
}

async function refresh() {
  const answer = await api("GET", "/contests/" + enc(contestId()));
  if (!answer) return;
  if (answer.status !== 200) return say($("stage-notice"), "error", Leitai.errorText(answer));
  contestView = answer.body;
  // one after another: each read may wait for the write just made, and the gateway lets a client
  // wait in only two requests at once (waits_per_client); beyond, it answers "not yet" at once
  await renderSessions();
  await renderStandings();
  await renderDeliveries();
  renderChanges();
  document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);  // for whoever waits on it
}

// -- sessions: sheets in, flags to review, missing sheets, the lock ----------------------------
async function renderSessions() {
  const sessions = contestView.sessions.filter((s) => s.stage_id === stageId());
  const box = $("sessions");
  if (!sessions.length) return box.replaceChildren(el("p", {class: "muted", text: "本轮还没有安排场次。"}));
  const cards = [];
  for (const s of sessions) cards.push(await sessionCard(s));  // one at a time, as above
  box.replaceChildren(...cards);
}

async function sessionCard(s) {
  const card = el("section", {class: "card", "data-session": s.session_id, "aria-label": "场次 " + s.session_id});
  const title = el("h3", {text: "场次 " + s.session_id + "（" + groupName(s.group_id) + "）　" + (s.starts_at || "")});
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
  title.append(el("span", {class: "tag " + (status.locked ? "locked" : "received"), text: status.locked ? " 已锁定" : " 评分中"}));
  const rows = status.entries.map((e) => el("tr", {"data-entry": e.entry_id},
    el("td", {text: String(e.order)}), el("td", {text: e.name}),
    el("td", {class: "received-count", text: e.sheets.length + " / " + (e.sheets.length + e.missing.length)}),
    el("td", {text: e.open_flags.length ? "评委 " + e.open_flags.join("、") + " 偏差超出容差，待核" : "—"}),
    el("td", {text: e.missing.length ? "缺 " + e.missing.join("、") : "—"})));
  const count = (key) => status.entries.reduce((n, e) => n + e[key].length, 0);
  const summary = status.entries.length + " 名选手；已收评分 " + count("sheets") + " / " + (count("sheets") + count("missing"))
    + "；偏差待核 " + count("open_flags") + "；缺评 " + count("missing");
  // a session under way is open; a locked one folds to its summary line
  card.append(title, el("details", {open: !status.locked}, el("summary", {text: summary}), el("table", {},
    el("thead", {}, el("tr", {}, ...["顺序", "选手", "已收评分", "偏差提示", "缺评"].map((h) => el("th", {text: h})))),
    el("tbody", {}, ...rows))));
  if (!status.locked) {
    const reasonId = "reason-" + s.session_id, notice = el("div", {});
    const reason = el("input", {id: reasonId, maxlength: "1000"});
    const lock = el("button", {type: "button", class: "lock", onclick: async () => {
      lock.disabled = true;
      const body = reason.value.trim() ? {override_reason: reason.value.trim()} : {};
      const done = await api("POST", "/sessions/" + enc(s.session_id) + "/lock", body);
      lock.disabled = false;
      if (!done) return say(notice, "error", "无法连接服务，请稍后再试。");
      if (done.status !== 200) return say(notice, "error", Leitai.errorText(done));
      say($("stage-notice"), "ok", "场次 " + s.session_id + " 已锁定，" + done.body.results.length + " 名选手的得分已计算。");
      await refresh();
    }, text: "锁定本场"});
    card.append(el("div", {class: "row"},
      el("div", {class: "grow"}, el("label", {for: reasonId, text: "越过提示锁定的理由（有偏差或缺评时必填）"}), reason),
      lock), notice);
  }
  return card;
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
  $("standings-caption").textContent = (board.published ? "已公布" : "实时（未公布）") + "：" + board.name;
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
  const link = el("a", {href: URL.createObjectURL(answer.body), download: contestId() + "-" + stageId() + "." + kind});
  document.body.append(link);
  link.click();
  link.remove();
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

// -- notices and their deliveries --------------------------------------------------------------
async function renderDeliveries() {
  const status = $("delivery-status").value;
  const answer = await api("GET", "/contests/" + enc(contestId()) + "/deliveries" + (status ? "?status=" + status : ""));
  if (!answer) return;
  if (answer.status !== 200) return say($("delivery-notice"), "error", Leitai.errorText(answer));
  const all = answer.body.deliveries, shown = all.slice(0, 50);
  say($("delivery-notice"), "info", all.length ? "共 " + all.length + " 条" + (all.length > shown.length ? "，显示前 50 条" : "")
      : "没有" + (status ? "“" + $("delivery-status").selectedOptions[0].text + "”的" : "") + "通知。");
  $("deliveries").replaceChildren(...shown.map((d) => el("tr", {"data-delivery": d._id},
    el("td", {text: d.name || d.recipient_id}), el("td", {text: d.kind}), el("td", {text: d.channel}),
    el("td", {text: STATUS[d.status] || d.status}), el("td", {text: String(d.attempts)}),
    el("td", {text: d.last_error || ""}),
    el("td", {}, d.status === "failed" ? el("button", {type: "button", class: "secondary", text: "重新发送",
      onclick: async () => {
        const done = await api("POST", "/contests/" + enc(contestId()) + "/deliveries/" + enc(d._id) + "/retry");
        if (!done || done.status !== 200) return say($("delivery-notice"), "error", done ? Leitai.errorText(done) : "无法连接服务");
        say($("delivery-notice"), "ok", "已重新排队发送。");
        await renderDeliveries();
      }}) : ""))));
}

Leitai.wireSignIn(PAGE, "console", start);
$("contest-select").addEventListener("change", () => { $("stage-select").value = ""; chooseContest(); });
$("stage-select").addEventListener("change", refresh);
$("refresh").addEventListener("click", refresh);
$("delivery-status").addEventListener("change", renderDeliveries);
start();
