// The page is the whole client: no build step. It subscribes to the stage's live stream.
// screen.js: the token (from the link's fragment, or typed), its ticket, the stream
const stream = LeitaiScreen.open(location.pathname.replace(/\/$/, ""));
const text = (tag, value, cls) => { const el = document.createElement(tag); el.textContent = value;
                                    if (cls) el.className = cls; return el; };
stream.onopen = () => { document.getElementById("status").textContent = "实时"; };
stream.onerror = () => { document.getElementById("status").textContent = "重新连接中"; };
stream.onmessage = (message) => {
  const state = JSON.parse(message.data);
  document.getElementById("title").textContent = state.stage_name + (state.published ? " · 成绩公布" : " · 实时成绩");
  const last = state.last_locked;
  const highlight = document.getElementById("highlight");
  if (last) {
    const high = last.dropped_high.length ? "去掉一个最高分 " + last.dropped_high.join("、") : "未去掉最高分";
    const low = last.dropped_low.length ? "去掉一个最低分 " + last.dropped_low.join("、") : "未去掉最低分";
    highlight.replaceChildren(text("span", last.name + "：" + high + "，" + low + "，"),
      text("span", "最后得分 " + last.stage_score, "score"), text("span", (state.published ? "，名次 第" : "，当前排名 第") + last.rank + "名"));
    highlight.dataset.entry = last.entry_id;
  }
  const rows = state.standings.map((r) => {
    const tr = document.createElement("tr");
    if (r.advanced) tr.className = "advanced";
    tr.append(text("td", "第" + r.rank + "名"), text("td", r.name), text("td", state.groups[r.group_id] || r.group_id),
              text("td", r.stage_score), text("td", r.advanced ? "晋级" : ""));
    tr.dataset.entry = r.entry_id;
    return tr;
  });
  document.getElementById("board").replaceChildren(...rows);
  const now = state.progress.find((p) => p.received < p.expected) || null;
  document.getElementById("progress").textContent = now
    ? "正在评分：第" + now.order + "位 " + now.name + "，已收到评分 " + now.received + "/" + now.expected : "";
};
