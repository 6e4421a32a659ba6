// Shared by the judge's page and the organiser's console: the token, calls to the API, errors
// as the API words them, exact decimal arithmetic for totals. No build step, no framework.
"use strict";

const Leitai = (() => {
  const tokenKey = (page) => "leitai." + page + ".token";

  // The token comes in the link's fragment (never sent to a server, never in a log), is kept on
  // this device, and is removed from the address bar at once.
  function token(page) {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("token")) {
      localStorage.setItem(tokenKey(page), fragment.get("token"));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return localStorage.getItem(tokenKey(page));
  }

  function signOut(page) { localStorage.removeItem(tokenKey(page)); }

  // Another link opened on a page already open (the supervisor's on the organiser's console, a
  // second judge's on a shared tablet) changes only the fragment, which loads nothing: load the
  // page again, so that it is the new token's from the first word
  if (typeof window !== "undefined") {  // (node runs this file's arithmetic in the tests: no window there)
    window.addEventListener("hashchange", () => {
      if (new URLSearchParams(location.hash.slice(1)).get("token")) location.reload();
    });
  }
  function keep(page, value) { localStorage.setItem(tokenKey(page), value); }  // a token typed in

  // The sign-in form in place of the page's main section (``main``), with why it is shown.
  function showSignIn(main, message) {
    document.getElementById("sign-in").classList.remove("hidden");
    document.getElementById(main).classList.add("hidden");
    document.getElementById("sign-out").classList.add("hidden");
    say(document.getElementById("notice"), "error", message || "");
    document.getElementById("token-input").focus();
  }
  function showSignedIn(main) {
    document.getElementById("sign-in").classList.add("hidden");
    document.getElementById(main).classList.remove("hidden");
    document.getElementById("sign-out").classList.remove("hidden");
  }

  // The sign-in form and the sign-out button: ``start`` loads the page with the token now kept.
  function wireSignIn(page, main, start) {
    document.getElementById("sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("token-input");
      localStorage.setItem(tokenKey(page), input.value.trim());
      input.value = "";
      say(document.getElementById("notice"), "info", "");
      start();
    });
    document.getElementById("sign-out").addEventListener("click", () => { signOut(page); showSignIn(main); });
  }

  // The header's connection badge.
  function network(online, offlineText, offlineKind) {
    const badge = document.getElementById("network");
    badge.textContent = online ? "在线" : offlineText;
    badge.className = "tag " + (online ? "received" : offlineKind);
  }

  class Offline extends Error {}

  // What this page wrote (the API's Leitai-Written tokens), sent back as Leitai-After so that
  // what it reads next shows its own writes: the standings right after a lock, a publication.
  const written = [];

  // One call to the API. Resolves with {status, body} for any answer (4xx included); rejects with
  // Offline when no answer came (network down, gateway stopped, or a 502-504 from a proxy).
  async function call(page, method, path, body, headers, attempt = 0) {
    let response;
    try {
      response = await fetch(path, {
        method, cache: "no-store",
        headers: Object.assign({"Authorization": "Bearer " + (localStorage.getItem(tokenKey(page)) || "")},
                               written.length ? {"Leitai-After": written.join(", ")} : {},
                               body === undefined ? {} : {"Content-Type": "application/json"}, headers || {}),
        body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (e) {
      throw new Offline(String(e));
    }
    if ([502, 503, 504].includes(response.status) && !(response.headers.get("Content-Type") || "").includes("json")) {
      throw new Offline("HTTP " + response.status);
    }
    for (const token of (response.headers.get("Leitai-Written") || "").split(",").filter((t) => t.trim())) {
      written.push(token.trim());
      if (written.length > 16) written.shift();
    }
    const type = response.headers.get("Content-Type") || "";
    const answer = type.includes("json") ? await response.json() : await response.blob();
    if (response.status === 400 && written.length && answer.error && answer.error.fields
        && "Leitai-After" in answer.error.fields) {
      // tokens the gateway no longer takes (its key was changed): nothing was done; forget them, ask again
      written.length = 0;
      return call(page, method, path, body, headers);
    }
    const retryAfter = answer.error && answer.error.fields && Number(answer.error.fields.retry_after);
    if (response.status === 503 && method === "GET" && retryAfter && attempt < 5) {
      // "not yet": the service has not seen a write this page made and the gateway lets one client
      // wait in only a few requests at once. A read did nothing: ask again after the pause it names
      await new Promise((resolve) => setTimeout(resolve, 1000 * Math.min(retryAfter, 2)));
      return call(page, method, path, body, headers, attempt + 1);
    }
    return {status: response.status, body: answer};
  }

  // A call from a page with the connection badge in its header: null when no answer came (the
  // badge then says ``offlineText``), the answer otherwise.
  async function connected(page, method, path, body, offlineText = "无法连接服务") {
    try {
      const answer = await call(page, method, path, body);
      network(true);
      return answer;
    } catch (e) {
      if (e instanceof Offline) { network(false, offlineText, "refused"); return null; }
      throw e;
    }
  }

  // A file the API answered with (an export, a template), saved on the user's machine as ``name``.
  function saveAs(blob, name) {
    const link = el("a", {href: URL.createObjectURL(blob), download: name});
    document.body.append(link);
    link.click();
    link.remove();
  }

  // For a part of a page that may be drawn again before its reading answers (a filter changed,
  // a decision's own redraw beside the page's refresh): each call of the returned function starts
  // a reading and gives back ``superseded()``, true once a later reading began; the earlier one,
  // answering late, then draws nothing over the later.
  function latest() {
    let began = 0;
    return () => {
      const mine = ++began;
      return () => mine !== began;
    };
  }

  // The API's error, as lines for the page: its message (the gateway's, in the reader's
  // language), then each field's messages, the field said by what the form calls it (``labels``:
  // a path or its beginning, e.g. "criteria.0", -> words), never as the API's path or as JSON.
  function errorText(answer, labels = {}) {
    const error = (answer.body && answer.body.error) || {};
    const fields = [];
    const walk = (messages, path) => {
      if (Array.isArray(messages)) {
        const said = messages.filter((m) => typeof m === "string");
        if (said.length) fields.push((fieldName(path, labels) ? fieldName(path, labels) + "：" : "") + said.join("；"));
      } else if (messages && typeof messages === "object") {
        for (const [key, inner] of Object.entries(messages)) walk(inner, path ? path + "." + key : key);
      }
    };
    walk(error.fields || {}, "");
    return [error.message || ("HTTP " + answer.status), ...fields].join("\n");
  }
  const FIELDS = {tree_id: "区划表编号", contest_id: "比武编号", name: "名称", county_code: "主办县（市）",
    format: "比武形式", description: "简介", organiser: "组织方联系人", email: "邮箱", phone: "电话", order: "第几轮",
    stage_id: "轮次", groups: "分组", townships: "乡镇", criteria: "评分项", max: "满分", weight: "权重",
    step: "最小分差", panel_size: "每场评委人数", drop_rule: "去分规则", min_sheets: "评分份数",
    drop_high: "去掉的最高分", drop_low: "去掉的最低分", tolerance: "偏差提示", advancement: "晋级",
    per_group: "每组晋级人数", overall: "按总分晋级人数", session_id: "场次", starts_at: "时间", place: "地点",
    seats: "评委席", reason: "理由", regions: "区划", workbook: "名单文件", themes: "主题", cadence: "多久一次",
    day_of_month: "每月几号", township_code: "乡镇", entry_id: "选手", judge_id: "评委", days: "有效天数"};
  function fieldName(path, labels) {
    if (!path || path === "_body" || path.startsWith("scores.")) return "";  // a score's message names its criterion
    if (path === "csv") return "区划表文件";
    if (/^csv\.\d+$/.test(path)) return "区划表文件第 " + path.slice(4) + " 行";
    if (/^[^.:]+:\d+$/.test(path)) return "“" + path.split(":")[0] + "”表第 " + path.split(":")[1] + " 行";
    const known = Object.keys(labels).filter((p) => path === p || path.startsWith(p + ".")).sort((a, b) => b.length - a.length)[0];
    const rest = known ? path.slice(known.length).replace(/^\./, "") : path;
    const words = rest ? rest.split(".").map((part) => /^\d+$/.test(part) ? "第 " + (Number(part) + 1) + " 项" : (FIELDS[part] || part)) : [];
    return [...(known ? [labels[known]] : []), ...words].join(" ").replace(/的 /g, "的");
  }

  const el = (tag, attributes, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      // the gateway's Content-Security-Policy refuses style attributes: a class of pages.css instead
      if (name === "style") throw new TypeError("no style attribute: give the element a class");
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  };

  function say(where, kind, text) {
    where.replaceChildren(text ? el("div", {class: "message " + kind, role: kind === "error" ? "alert" : "status",
                                             text}) : "");
  }

  // Decimals as BigInt millionths: a sheet's total is exact, as the server computes it.
  const SCALE = 1000000n;
  // full-width digits and points (２６．５, 26。5) are read as the gateway reads them (schemas.py,
  // TypedScore): NFKC, then 。 as a point
  function decimal(text) {
    const typed = String(text).normalize("NFKC").replace(/[。｡]/g, ".");
    const match = /^\s*(-?)([0-9]{1,9})(?:\.([0-9]{1,6}))?\s*$/.exec(typed);
    if (!match) return null;
    const size = BigInt(match[2]) * SCALE + BigInt((match[3] || "").padEnd(6, "0"));
    return match[1] ? -size : size;
  }
  function format(units, places = 6) {  // units of 10^-places: millionths unless told
    if (units < 0n) return "-" + format(-units, places);
    const scale = 10n ** BigInt(places);
    const whole = units / scale, part = (units % scale).toString().padStart(places, "0").replace(/0+$/, "");
    return whole.toString() + (part ? "." + part : "");
  }
  // The same checks and words as the API's (services/scoring/rules.py: score_problems).
  function scoreProblem(criterion, text) {
    if (String(text).trim() === "") return "missing score";
    const value = decimal(text);
    if (value === null) return "Not a valid number.";
    if (value < 0n || value > decimal(criterion.max)) return "must be between 0 and " + criterion.max;
    if (value % decimal(criterion.step) !== 0n) return "must be a multiple of " + criterion.step;
    return null;
  }
  function weightedTotal(criteria, values) {
    let total = 0n;  // in millionths of millionths: a weight times a score, each of 6 places at most, exactly
    for (const c of criteria) {
      const value = decimal(values[c.criterion_id]);
      if (value === null) return null;
      total += decimal(c.weight) * value;
    }
    return format(total, 12);
  }

  // A time as people write it, in China's time whatever the device's clock says (the contests
  // are China's): 12月5日 上午9:00 (notify's mails say it so too: wording.when), or with the year
  // (``withYear``); "" for none.
  function dated(iso, withYear = false) {
    if (!iso) return "";
    return new Date(iso).toLocaleString("zh-CN", {...(withYear ? {year: "numeric"} : {}), month: "long",
      day: "numeric", hour: "numeric", minute: "2-digit", hour12: true, timeZone: "Asia/Shanghai"});
  }

  // A random (v4) UUID: crypto.randomUUID exists only on https or localhost, and a venue's
  // gateway may be plain http on the hall's network.
  function uuid4() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  return {token, keep, signOut, showSignIn, showSignedIn, wireSignIn, network, call, connected, latest, saveAs, uuid4, Offline, errorText, el, say, decimal, format, scoreProblem, weightedTotal, dated};
})();
