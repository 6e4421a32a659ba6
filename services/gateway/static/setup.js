"use strict";
// 比武设置: a contest from nothing to its sessions open, for an organiser who has never seen the
// API. Each step is a call to the documented API with the organiser's token (the console's: one
// sign-in serves both pages); the page only fills the forms in from a format (GET /formats) and
// turns names into the ids the API wants.
const PAGE = "console";
const $ = (id) => document.getElementById(id);
const {el, say} = Leitai;
const enc = encodeURIComponent;
const LEVELS = {county: "县（市）", township: "乡镇（街道）", village: "村（社区）"};
const CADENCES = {monthly: "每月一次", bimonthly: "每两月一次"};
let formats = [], contests = [], view = null, regions = [];

const api = (method, path, body) => Leitai.connected(PAGE, method, path, body);
const failed = (answer) => answer ? Leitai.errorText(answer) : "无法连接服务，请稍后再试。";
const contestId = () => $("contest-select").value;
const chosenFormat = () => formats.find((f) => f.key === $("format-select").value) || formats[0];
// the format a contest was made from: the one chosen here, or the first of its kind
const formatOf = (contest) => formats.find((f) => f.key === new URLSearchParams(location.search).get("from"))
  || formats.find((f) => f.format === contest.format) || formats[0];
const townships = () => regions.filter((r) => r.level === "township" && view && r.parent === view.county_code);
const regionName = (code) => (regions.find((r) => r.code === code) || {}).name || code;
const judgeName = (id) => ((view.judges || []).find((j) => j.judge_id === id) || {}).name || id;
const entryName = (id) => ((view.entries || []).find((e) => e.entry_id === id) || {}).name || id;
// an id the API takes (letters, digits, - and _, at most 64) from parts of others
const idOf = (...parts) => parts.join("-").replace(/[^A-Za-z0-9_-]/g, "").slice(0, 64);

// the console's sign-in, which comes back here once an organiser is signed in
const signIn = () => location.replace("/console?then=setup");

async function start() {
  if (!Leitai.token(PAGE)) return signIn();
  const [listed, known] = [await api("GET", "/contests"), await api("GET", "/formats")];
  if (!listed || !known) return;
  if (listed.status !== 200 || known.status !== 200) return signIn();  // the console says why
  $("setup").classList.remove("hidden");
  $("sign-out").classList.remove("hidden");
  contests = listed.body.contests;
  formats = known.body.formats;
  $("format-select").replaceChildren(...formats.map((f) => el("option", {value: f.key, text: f.name})));
  showFormat();
  const wanted = new URLSearchParams(location.search).get("contest") || "";
  $("contest-select").replaceChildren(el("option", {value: "", text: "新建一场比武"}),
    ...contests.map((c) => el("option", {value: c.contest_id, text: c.name, selected: c.contest_id === wanted})));
  $("tree-id").value = localStorage.getItem("leitai.setup.tree") || "";
  if ($("tree-id").value && !wanted) await loadTree();
  await chooseContest();
}

function showFormat() {
  const format = chosenFormat();
  $("format-summary").textContent = format ? format.summary : "";
}

async function chooseContest() {
  const id = contestId();
  const query = new URLSearchParams(location.search);
  if (id) query.set("contest", id); else query.delete("contest");
  history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : ""));
  $("to-console").href = "/console" + (id ? "?contest=" + enc(id) : "");
  if (!id) {
    view = null;
    $("contest-form").classList.remove("hidden");
    $("contest-done").classList.add("hidden");
    $("contest-id").value = $("contest-id").value || suggestedId();
    return render();
  }
  await reload();
}

function suggestedId() {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, "");
  return "bw" + day + "-" + Leitai.uuid4().slice(0, 4);
}

async function reload() {
  const answer = await api("GET", "/contests/" + enc(contestId()));
  if (!answer) return say($("notice"), "error", failed(answer));
  if (answer.status !== 200) return say($("notice"), "error", Leitai.errorText(answer));
  view = answer.body;
  if (!regions.length || regions[0].tree_id !== view.tree_id) {
    const tree = await api("GET", "/regions/" + enc(view.tree_id));
    regions = tree && tree.status === 200 ? tree.body.regions.map((r) => Object.assign(r, {tree_id: view.tree_id})) : [];
  }
  render();
}

function render() {
  const has = {contest: !!view, stages: view && (view.stages.length || view.forum_series.length),
               roster: view && (view.judges.length || view.entries.length),
               sessions: view && view.sessions.some((s) => s.opened)};
  $("steps").replaceChildren(...[["contest", "新建比武"], ["stages", "轮次与评分项"], ["roster", "评委和选手名单"],
    ["sessions", "场次与开始评分"]].map(([key, name]) => el("li", {class: has[key] ? "done" : "",
    text: name + (has[key] ? "（已完成）" : "")})));
  for (const step of ["stages", "roster", "sessions"]) $("step-" + step).classList.toggle("hidden", !view);
  if (!view) return;
  $("contest-form").classList.add("hidden");
  $("contest-done").classList.remove("hidden");
  $("contest-done").replaceChildren(el("p", {}, view.name + "（" + regionName(view.county_code) + "，编号 ",
    el("span", {class: "id", text: view.contest_id}), "）已创建。"), el("p", {class: "muted", text: "形式：" + formatOf(view).name}));
  renderStages();
  renderRoster();
  renderSessions();
}

// -- step 1: the region tree and the contest -------------------------------------------------
async function loadTree() {
  const id = $("tree-id").value.trim();
  if (!id) return say($("tree-notice"), "error", "请先填写行政区划表编号。");
  const answer = await api("GET", "/regions/" + enc(id));
  if (!answer) return say($("tree-notice"), "error", failed(answer));
  $("tree-import").classList.toggle("hidden", answer.status === 200);
  $("reimport-tree").classList.toggle("hidden", answer.status !== 200);
  if (answer.status !== 200) {
    regions = [];
    $("county-select").replaceChildren();
    $("tree-summary").replaceChildren(...(answer.status === 404 ? ["还没有编号为“", el("span", {class: "id", text: id}),
      "”的区划表：请导入。"] : [Leitai.errorText(answer)]));
    return;
  }
  localStorage.setItem("leitai.setup.tree", id);
  regions = answer.body.regions.map((r) => Object.assign(r, {tree_id: id}));
  const count = (level) => regions.filter((r) => r.level === level).length;
  $("tree-summary").replaceChildren("区划表“", el("span", {class: "id", text: id}), "”：" + Object.entries(LEVELS)
    .map(([level, name]) => count(level) + " 个" + name).join("、") + "。");
  $("county-select").replaceChildren(...regions.filter((r) => r.level === "county").map((r) =>
    el("option", {value: r.code, text: r.name})));
}

// A CSV as Excel saves it: UTF-8 ("CSV UTF-8") or, on a Chinese Windows, GBK ("CSV（逗号分隔）")
async function csvText(file) {
  const bytes = await file.arrayBuffer();
  try {
    return new TextDecoder("utf-8", {fatal: true}).decode(bytes);
  } catch (e) {
    return new TextDecoder("gbk").decode(bytes);
  }
}

async function importTree() {
  const file = $("tree-file").files[0];
  if (!file) return say($("tree-notice"), "error", "请先选择区划表文件。");
  const answer = await api("PUT", "/regions/" + enc($("tree-id").value.trim()), {csv: await csvText(file)});
  if (!answer || answer.status !== 200) return say($("tree-notice"), "error", "区划表未导入。" + failed(answer));
  say($("tree-notice"), "ok", "已导入 " + answer.body.regions + " 个行政区划。");
  await loadTree();
}

async function createContest(event) {
  event.preventDefault();
  const organiser = {name: $("organiser-name").value.trim(), phone: $("organiser-phone").value.trim(),
                     email: $("organiser-email").value.trim()};
  const missing = [["contest-name", "比武名称"], ["tree-id", "行政区划表编号"], ["county-select", "主办县（市）"],
                   ["contest-id", "比武编号"]].filter(([id]) => !$(id).value.trim()).map(([, name]) => name);
  if (missing.length) return say($("contest-notice"), "error", "请填写：" + missing.join("、") + "。");
  const format = chosenFormat();
  const answer = await api("POST", "/contests", {
    contest_id: $("contest-id").value.trim(), name: $("contest-name").value.trim(), tree_id: $("tree-id").value.trim(),
    county_code: $("county-select").value, format: format.format, description: $("contest-description").value.trim(),
    organiser: organiser.name ? organiser : null});
  if (!answer || answer.status !== 201) return say($("contest-notice"), "error", "比武未创建。" + failed(answer));
  const id = answer.body.contest_id;
  contests.push({contest_id: id, name: answer.body.name});
  $("contest-select").append(el("option", {value: id, text: answer.body.name}));
  $("contest-select").value = id;
  history.replaceState(null, "", location.pathname + "?contest=" + enc(id) + "&from=" + enc(format.key));
  say($("contest-notice"), "ok", "已创建。下面按比武形式填好了轮次，请核对后逐轮保存。");
  await chooseContest();
}

// -- step 2: stages and their criteria (or a meeting series) ----------------------------------
let extraStages = 0;  // stages added by hand, beyond the format's
// a format's stages this contest does without (不设这一轮), kept on this device
const dismissedKey = () => "leitai.setup.dismissed." + view.contest_id;
const dismissed = () => JSON.parse(localStorage.getItem(dismissedKey()) || "[]");

function renderStages() {
  const box = $("stages");
  const format = formatOf(view);
  const defined = view.stages.map(stageSummary);
  const definedIds = new Set(view.stages.map((s) => s.stage_id)), orders = new Set(view.stages.map((s) => s.order));
  const waiting = format.stages.filter((s) => !definedIds.has(s.stage_id) && !orders.has(s.order)
                                             && !dismissed().includes(s.stage_id));
  const blank = formats.find((f) => f.key === "blank").stages[0];
  for (let n = 0; n < extraStages; n++) {
    const order = Math.max(0, ...view.stages.map((s) => s.order), ...waiting.map((s) => s.order)) + 1;
    waiting.push(Object.assign({}, blank, {stage_id: "round-" + order, name: "第" + order + "轮", order}));
  }
  const series = view.format === "exchange"
    ? [...view.forum_series.map(seriesSummary), ...format.series.filter((s) =>
      !view.forum_series.some((f) => f.series_id === s.series_id)).map(seriesForm)] : [];
  box.replaceChildren(...defined, ...waiting.map(stageForm), ...series,
    !defined.length && !waiting.length && !series.length ? el("p", {class: "muted", text: "还没有轮次。"}) : "");
  $("add-stage").classList.toggle("hidden", view.format === "exchange");
}

function stageSummary(stage) {
  const drop = stage.drop_rule.filter((t) => t.drop_high || t.drop_low).map((t) =>
    "评分满 " + t.min_sheets + " 份时去掉 " + t.drop_high + " 个最高分、" + t.drop_low + " 个最低分").join("；");
  const go = stage.advancement;
  return el("div", {class: "card", "data-stage": stage.stage_id},
    el("h3", {text: "第" + stage.order + "轮　" + stage.name + "（已保存）"}),
    el("p", {text: "评分项：" + stage.criteria.map((c) => c.name + "（满分 " + c.max + "，权重 " + c.weight + "）").join("、")}),
    el("p", {class: "muted", text: [stage.groups.length + " 个组", "每场评委 " + stage.panel_size + " 人", drop || "不去分",
      go.per_group ? "每组前 " + go.per_group + " 名晋级" : "", go.overall ? (go.per_group ? "另取总分前 " : "总分前 ")
      + go.overall + " 名" + (go.per_group ? "" : "晋级") : ""].filter(Boolean).join("；")}));
}

function field(id, label, value, attributes = {}) {
  return el("div", {}, el("label", {for: id, text: label}), el("input", Object.assign({id, value: value ?? ""}, attributes)));
}

function stageForm(template) {
  const key = "stage-" + template.stage_id;
  const tiers = template.drop_rule.filter((t) => t.drop_high || t.drop_low);
  const drop = tiers[0] || {min_sheets: 5, drop_high: 0, drop_low: 0};
  const rows = el("tbody", {});
  const addRow = (c, n) => {
    const id = key + "-c" + n + "-" + rows.children.length;
    rows.append(el("tr", {"data-criterion": c.criterion_id || ""},
      el("td", {}, el("input", {id: id + "-name", value: c.name || "", "aria-label": "评分项名称", maxlength: "200"})),
      el("td", {}, el("input", {id: id + "-max", value: c.max || "", "aria-label": "满分", inputmode: "decimal"})),
      el("td", {}, el("input", {id: id + "-weight", value: c.weight || "1", "aria-label": "权重", inputmode: "decimal"})),
      el("td", {}, el("input", {id: id + "-step", value: c.step || "0.5", "aria-label": "最小分差（步长）", inputmode: "decimal"})),
      el("td", {}, el("button", {type: "button", class: "secondary", text: "删除",
        onclick: (e) => e.target.closest("tr").remove()}))));
  };
  template.criteria.forEach(addRow);
  const notice = el("div", {});
  const form = el("form", {class: "card", "data-stage-form": template.stage_id, novalidate: true},
    el("h3", {text: "第" + template.order + "轮（未保存）"}),
    el("div", {class: "row"},
      el("div", {class: "grow"}, el("label", {for: key + "-name", text: "本轮名称"}),
        el("input", {id: key + "-name", value: template.name, maxlength: "200"})),
      field(key + "-order", "第几轮", template.order, {inputmode: "numeric"}),
      el("div", {}, el("label", {for: key + "-groups", text: "分组"}), el("select", {id: key + "-groups"},
        el("option", {value: "township", text: "每个乡镇（街道）一组", selected: template.groups === "township"}),
        el("option", {value: "county", text: "全县一组", selected: template.groups === "county"}))),
      field(key + "-panel", "每场评委人数（不含候补）", template.panel_size, {inputmode: "numeric"})),
    el("table", {tabindex: "0"}, el("caption", {class: "muted", text: "评分项：选手得分为各项得分乘以权重之和"}),
      el("thead", {}, el("tr", {}, ...["评分项", "满分", "权重", "最小分差（步长）", ""].map((h) => el("th", {text: h})))),
      rows),
    el("p", {}, el("button", {type: "button", class: "secondary", text: "添加评分项",
      onclick: () => addRow({}, rows.children.length)})),
    el("div", {class: "row"},
      field(key + "-drop-from", "评分满几份时去分", drop.min_sheets, {inputmode: "numeric"}),
      field(key + "-drop-high", "去掉几个最高分", drop.drop_high, {inputmode: "numeric"}),
      field(key + "-drop-low", "去掉几个最低分", drop.drop_low, {inputmode: "numeric"}),
      field(key + "-tolerance", "偏差提示：单份总分偏离中位数超过（分，可不填）", template.tolerance || "", {inputmode: "decimal"})),
    el("div", {class: "row"},
      field(key + "-per-group", "每组前几名晋级（可不填）", template.advancement.per_group || "", {inputmode: "numeric"}),
      field(key + "-overall", "另取（或全部按）总分前几名（可不填）", template.advancement.overall || "", {inputmode: "numeric"})),
    el("div", {class: "row"}, el("button", {type: "submit", text: "保存本轮"}),
      el("button", {type: "button", class: "secondary", text: "不设这一轮", onclick: () => {
        if (template.stage_id.startsWith("round-")) extraStages = Math.max(0, extraStages - 1);
        else localStorage.setItem(dismissedKey(), JSON.stringify([...dismissed(), template.stage_id]));
        renderStages();
      }})), notice);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const stage = stageFrom(template, key, rows);
    if (typeof stage === "string") return say(notice, "error", stage);
    const answer = await api("POST", "/contests/" + enc(view.contest_id) + "/stages", stage);
    // a criterion's problem said by its name: 评分项“讲党建”的满分, not criteria.0.max
    const labels = Object.fromEntries(stage.criteria.map((c, n) => ["criteria." + n, "评分项“" + c.name + "”的"]));
    if (!answer || answer.status !== 201) {
      return say(notice, "error", "本轮未保存。" + (answer ? Leitai.errorText(answer, labels) : failed(answer)));
    }
    if (template.stage_id.startsWith("round-")) extraStages = Math.max(0, extraStages - 1);
    await reload();
  });
  return form;
}

// the stage the form says, as the API takes it; or what is missing, in words
function stageFrom(template, key, rows) {
  const number = (id) => { const v = $(key + "-" + id).value.trim().normalize("NFKC"); return v === "" ? null : Number(v); };
  const text = (id) => $(key + "-" + id).value.trim().normalize("NFKC");
  const criteria = [...rows.children].map((row, n) => {
    const [name, max, weight, step] = [...row.querySelectorAll("input")].map((i) => i.value.trim().normalize("NFKC"));
    return {criterion_id: row.dataset.criterion || "k" + (n + 1), name, max, weight, step};
  });
  if (!criteria.length) return "至少要有一个评分项。";
  const unnamed = criteria.findIndex((c) => !c.name || !c.max || !c.weight || !c.step);
  if (unnamed >= 0) return "第 " + (unnamed + 1) + " 个评分项的名称、满分、权重和步长都要填写。";
  if (!townships().length) return "主办县在区划表里没有乡镇（街道），无法分组。";
  const groups = text("groups") === "township"
    ? townships().map((t) => ({group_id: idOf("g", t.code), name: t.name, townships: [t.code]}))
    : [{group_id: "g-county", name: "全县", townships: townships().map((t) => t.code)}];
  const [from, high, low] = [number("drop-from"), number("drop-high") || 0, number("drop-low") || 0];
  const perGroup = number("per-group"), overall = number("overall");
  const ids = new Set(criteria.map((c) => c.criterion_id));
  return {
    stage_id: template.stage_id, name: text("name"), order: number("order"), groups, criteria,
    panel_size: number("panel"),
    drop_rule: [{min_sheets: 1, drop_high: 0, drop_low: 0}, ...(high || low ? [{min_sheets: from, drop_high: high, drop_low: low}] : [])],
    tolerance: text("tolerance") || null,
    advancement: {per_group: perGroup, overall,
      // a tie-break on a criterion the organiser removed goes with it
      tiebreak: template.advancement.tiebreak.filter((t) => t.kind !== "criterion" || ids.has(t.criterion_id))},
  };
}

function seriesSummary(series) {
  return el("div", {class: "card", "data-series": series.series_id},
    el("h3", {text: series.name + "（已保存）"}),
    el("p", {class: "muted", text: CADENCES[series.cadence] + "；" + (series.township_code ? regionName(series.township_code) : "全市")
      + "；主题：" + series.themes.join("、")}));
}

function seriesForm(template) {
  const key = "series-" + template.series_id, notice = el("div", {});
  const form = el("form", {class: "card", "data-series-form": template.series_id, novalidate: true},
    el("h3", {text: template.name + "（未保存）"}),
    field(key + "-name", "名称", template.name, {maxlength: "200"}),
    el("div", {class: "row"},
      el("div", {}, el("label", {for: key + "-cadence", text: "多久一次"}), el("select", {id: key + "-cadence"},
        ...Object.entries(CADENCES).map(([value, text]) => el("option", {value, text, selected: value === template.cadence})))),
      el("div", {}, el("label", {for: key + "-township", text: "范围"}), el("select", {id: key + "-township"},
        el("option", {value: "", text: "全县（市）"}), ...townships().map((t) => el("option", {value: t.code, text: t.name})))),
      field(key + "-day", "每月几号（可不填）", "", {inputmode: "numeric"})),
    el("label", {for: key + "-themes", text: "主题（一行一个）"}),
    el("textarea", {id: key + "-themes", text: template.themes.join("\n")}),
    el("p", {}, el("button", {type: "submit", text: "保存"})), notice);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const township = $(key + "-township").value, day = $(key + "-day").value.trim().normalize("NFKC");
    const answer = await api("POST", "/contests/" + enc(view.contest_id) + "/forum-series", {
      series_id: idOf(template.series_id, township), name: $(key + "-name").value.trim(), cadence: $(key + "-cadence").value,
      township_code: township || null, day_of_month: day ? Number(day) : null,
      themes: $(key + "-themes").value.split("\n").map((t) => t.trim()).filter(Boolean)});
    if (!answer || answer.status !== 201) return say(notice, "error", "未保存。" + failed(answer));
    await reload();
  });
  return form;
}

// -- step 3: judges and entries from a sheet ------------------------------------------------
function renderRoster() {
  const judges = view.judges, entries = view.entries;
  $("roster").replaceChildren(
    el("p", {text: "已登记评委 " + judges.length + " 名、选手 " + entries.length + " 名。"}),
    judges.length ? el("details", {}, el("summary", {text: "评委名单"}), el("table", {tabindex: "0"},
      el("thead", {}, el("tr", {}, ...["编号", "姓名", "工作单位", "所在乡镇（回避）", "回避选手"].map((h) => el("th", {text: h})))),
      el("tbody", {}, ...judges.map((j) => el("tr", {},
        el("td", {text: j.judge_id}), el("td", {text: j.name}), el("td", {text: j.work_unit || ""}),
        el("td", {text: j.township_code ? regionName(j.township_code) : ""}),
        el("td", {text: (j.conflicts || []).map(entryName).join("、")})))))) : "",
    entries.length ? el("details", {}, el("summary", {text: "选手名单"}), el("table", {tabindex: "0"},
      el("thead", {}, el("tr", {}, ...["编号", "姓名", "乡镇（街道）", "村（社区）", "汇报题目"].map((h) => el("th", {text: h})))),
      el("tbody", {}, ...entries.map((e) => el("tr", {},
        el("td", {text: e.entry_id}), el("td", {text: e.name}), el("td", {text: regionName(e.township_code)}),
        el("td", {text: regionName(e.village_code)}), el("td", {text: e.title})))))) : "");
}

async function downloadTemplate() {
  const answer = await api("GET", "/contests/" + enc(view.contest_id) + "/roster.xlsx");
  if (!answer || answer.status !== 200) return say($("roster-notice"), "error", failed(answer));
  Leitai.saveAs(answer.body, view.name + "-名单模板.xlsx");
}

async function uploadRoster() {
  const file = $("roster-file").files[0];
  $("roster-problems").replaceChildren();
  if (!file) return say($("roster-notice"), "error", "请先选择填好的名单文件（.xlsx）。");
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  say($("roster-notice"), "info", "正在检查……");
  const answer = await api("POST", "/contests/" + enc(view.contest_id) + "/roster", {workbook: btoa(binary)});
  if (!answer) return say($("roster-notice"), "error", failed(answer));
  if (answer.status !== 201) {
    const rows = (answer.body.error && answer.body.error.fields) || {};
    const byRow = Object.entries(rows).filter(([key]) => /^[^:]+:\d+$/.test(key));
    say($("roster-notice"), "error", byRow.length ? "名单有问题，什么也没有导入。请按下表改好后重新上传。"
      : "名单未导入。" + Leitai.errorText(answer));
    if (byRow.length) $("roster-problems").replaceChildren(el("table", {tabindex: "0", "aria-label": "名单中的问题"},
      el("thead", {}, el("tr", {}, ...["表", "行", "问题"].map((h) => el("th", {text: h})))),
      el("tbody", {}, ...byRow.map(([key, messages]) => {
        const [sheet, row] = key.split(":");
        return el("tr", {}, el("td", {text: sheet}), el("td", {text: "第 " + row + " 行"}), el("td", {text: messages.join("；")}));
      }))));
    return;
  }
  say($("roster-notice"), "ok", "已导入评委 " + answer.body.judges + " 名、选手 " + answer.body.entries + " 名。");
  $("roster-file").value = "";
  await reload();
}

// -- step 4: sessions, panels, the draw and the opening -------------------------------------
function renderSessions() {
  const box = $("sessions");
  if (!view.stages.length) return box.replaceChildren(el("p", {class: "muted", text: "先保存轮次。"}));
  box.replaceChildren(...view.stages.map((stage) => el("section", {"data-stage": stage.stage_id},
    el("h3", {text: "第" + stage.order + "轮　" + stage.name}),
    ...(stage.order > 1 && !view.entries.some((e) => e.stage_id === stage.stage_id)
      ? [el("p", {class: "muted", text: "本轮选手在上一轮公布成绩后产生；可以先安排场次和评委席，公布后再抽签。"})] : []),
    ...stage.groups.map((group) => {
      const session = view.sessions.find((s) => s.stage_id === stage.stage_id && s.group_id === group.group_id);
      return session ? sessionCard(stage, group, session) : scheduleForm(stage, group);
    }))));
}

function entriesOf(stage, group) {
  return view.entries.filter((e) => !e.withdrawn && e.stage_id === stage.stage_id && group.townships.includes(e.township_code));
}

function scheduleForm(stage, group) {
  const key = idOf("new", stage.stage_id, group.group_id), notice = el("div", {});
  const form = el("form", {class: "card", "data-group": group.group_id, novalidate: true},
    el("h3", {text: group.name + "（" + entriesOf(stage, group).length + " 名选手）"}),
    el("div", {class: "row"},
      field(key + "-when", "时间", "", {type: "datetime-local"}),
      el("div", {class: "grow"}, el("label", {for: key + "-place", text: "地点"}),
        el("input", {id: key + "-place", maxlength: "200", placeholder: "如：县委党校报告厅"})),
      el("button", {type: "submit", text: "安排场次"})), notice);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const when = $(key + "-when").value;
    if (!when) return say(notice, "error", "请填写场次时间。");
    const answer = await api("POST", "/contests/" + enc(view.contest_id) + "/sessions", {
      session_id: idOf(view.contest_id, stage.stage_id, group.group_id.replace(/^g-/, "")), stage_id: stage.stage_id,
      group_id: group.group_id, starts_at: when + (when.length === 16 ? ":00" : "") + "+08:00",
      place: $(key + "-place").value.trim()});
    if (!answer || answer.status !== 201) return say(notice, "error", "场次未安排。" + failed(answer));
    await reload();
  });
  return form;
}

function sessionCard(stage, group, session) {
  const notice = el("div", {}), entries = entriesOf(stage, group);
  const card = el("div", {class: "card", "data-session": session.session_id},
    el("h3", {text: group.name + "　" + Leitai.dated(session.starts_at) + (session.place ? "　" + session.place : "")},
      el("span", {class: "tag " + (session.opened ? "received" : "pending"), text: session.opened ? " 评分中" : " 未开始"})));
  if (session.opened) {
    card.append(el("p", {}, "已开始评分：评委用邀请链接登录即可评分。进度见",
      el("a", {href: "/console?contest=" + enc(view.contest_id) + "&stage=" + enc(stage.stage_id), text: "控制台"}), "。"));
    return card;
  }
  card.append(panelForm(stage, session, notice));
  const drawn = session.order && session.order.length;
  // a draw is made once; again only when the entries changed since (a withdrawal, an advancement)
  const changed = drawn && (session.order.length !== entries.length || entries.some((e) => !session.order.includes(e.entry_id)));
  card.append(el("p", {text: drawn ? "出场顺序：" + session.order.map((id, n) => (n + 1) + ". " + entryName(id)).join("　")
    + (changed ? "（选手名单已变动，需重新抽签）" : "") : entries.length + " 名选手，尚未抽签。"}));
  const draw = drawn && !changed ? "" : el("button", {type: "button", class: "secondary", text: drawn ? "重新抽签" : "抽签",
    onclick: async () => {
      const answer = await api("POST", "/contests/" + enc(view.contest_id) + "/sessions/" + enc(session.session_id) + "/draw", {});
      if (!answer || answer.status !== 201) return say(notice, "error", "未抽签。" + failed(answer));
      await reload();
    }});
  const open = el("button", {type: "button", text: "开始评分", disabled: !drawn || changed || !session.seats.length, onclick: async () => {
    if (!confirm("开始评分后，评委即可打分；本场的评委席和出场顺序不能再改。确定开始吗？")) return;
    const answer = await api("POST", "/contests/" + enc(view.contest_id) + "/sessions/" + enc(session.session_id) + "/opening");
    if (!answer || answer.status !== 200) return say(notice, "error", "未开始。" + failed(answer));
    await reload();
  }});
  const why = !session.seats.length ? "先保存评委席" : !drawn ? "先抽签" : changed ? "先重新抽签" : "";
  card.append(el("div", {class: "row"}, draw, open, why ? el("span", {class: "muted", text: why + "，才能开始评分"}) : ""),
    notice);
  return card;
}

function panelForm(stage, session, notice) {
  const seated = Object.fromEntries((session.seats || []).map((s) => [s.judge_id, s]));
  const name = "head-" + session.session_id;
  const rows = view.judges.map((j) => {
    const seat = seated[j.judge_id], id = idOf("seat", session.session_id, j.judge_id);
    return el("tr", {"data-judge": j.judge_id},
      el("td", {}, el("label", {for: id, class: "inline", text: j.name + (j.work_unit ? "（" + j.work_unit + "）" : "")})),
      el("td", {}, el("select", {id, "aria-label": j.name + " 在本场"},
        el("option", {value: "", text: "不参加"}),
        el("option", {value: "seat", text: "评委", selected: seat && !seat.reserve}),
        el("option", {value: "reserve", text: "候补", selected: seat && seat.reserve}))),
      el("td", {}, el("input", {type: "radio", name, value: j.judge_id, checked: !!(seat && seat.head),
        "aria-label": j.name + " 任主评（可锁定本场）"})));
  });
  const save = el("button", {type: "button", class: "secondary", text: "保存评委席", onclick: async () => {
    const head = (document.querySelector("input[name='" + name + "']:checked") || {}).value;
    const seats = view.judges.map((j) => ({judge_id: j.judge_id, how: $(idOf("seat", session.session_id, j.judge_id)).value}))
      .filter((s) => s.how).map((s) => ({judge_id: s.judge_id, reserve: s.how === "reserve", head: s.judge_id === head}));
    const regular = seats.filter((s) => !s.reserve).length;
    if (regular !== stage.panel_size) return say(notice, "error", "本轮每场评委 " + stage.panel_size + " 人，现在选了 " + regular + " 人。");
    if (!seats.some((s) => s.head && !s.reserve)) return say(notice, "error", "请在评委中选一位主评。");
    const answer = await api("PUT", "/contests/" + enc(view.contest_id) + "/sessions/" + enc(session.session_id) + "/panel", {seats});
    if (!answer || answer.status !== 200) return say(notice, "error", "评委席未保存。" + failed(answer));
    await reload();
  }});
  const summary = session.seats.length ? "评委席：" + session.seats.filter((s) => !s.reserve).map((s) =>
    judgeName(s.judge_id) + (s.head ? "（主评）" : "")).join("、") + (session.seats.some((s) => s.reserve)
    ? "；候补：" + session.seats.filter((s) => s.reserve).map((s) => judgeName(s.judge_id)).join("、") : "")
    : "评委席未定（需 " + stage.panel_size + " 名评委，可另设候补）";
  const change = session.seats.length ? "（点此修改）" : "";
  return el("details", {open: !session.seats.length}, el("summary", {text: summary + change}),
    view.judges.length ? el("table", {tabindex: "0"}, el("thead", {}, el("tr", {}, ...["评委", "本场", "主评"].map((h) => el("th", {text: h})))),
      el("tbody", {}, ...rows)) : el("p", {class: "muted", text: "先在第三步导入评委名单。"}),
    el("p", {class: "muted", text: "与选手同乡镇或列为回避的评委，评到该选手时自动回避，由候补评委替补。"}),
    view.judges.length ? save : "");
}

$("sign-out").addEventListener("click", () => { Leitai.signOut(PAGE); signIn(); });
$("contest-select").addEventListener("change", chooseContest);
$("format-select").addEventListener("change", showFormat);
$("load-tree").addEventListener("click", loadTree);
$("import-tree").addEventListener("click", importTree);
$("reimport-tree").addEventListener("click", () => $("tree-import").classList.remove("hidden"));
$("contest-form").addEventListener("submit", createContest);
$("add-stage").addEventListener("click", () => { extraStages += 1; renderStages(); });
$("roster-template").addEventListener("click", downloadTemplate);
$("roster-upload").addEventListener("click", uploadRoster);
start();
