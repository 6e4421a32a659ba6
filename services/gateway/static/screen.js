// The big screen's way in, with no token in any URL. The screen's token comes in the link's
// fragment (/live/<contest>/<stage>#token=…: never sent to a server, kept on this device, gone
// from the address bar at once; pages.js) or is typed here once. With it the page asks for a
// ticket (POST …/ticket, the token in the Authorization header): the answer is an HttpOnly
// cookie, short-lived and good for this stage's stream only, which EventSource sends (it cannot
// send headers). A stream the gateway ends (its ticket expired, a restart) is opened again with a
// new ticket. Needs pages.js (Leitai). No build step.
"use strict";

const LeitaiScreen = (() => {
  const PAGE = "live";

  // The live stream of the stage at ``base`` (/live/<contest>/<stage>): an object whose onopen,
  // onerror and onmessage are called as an EventSource's are, across reconnections, and whose
  // close() ends it. ``page``: whose token asks for the tickets (the big screen's, or the
  // console's); ``refused``: what to do when that token may not (the big screen asks for another).
  function open(base, page = PAGE, refused = ask) {
    let closed = false, source = null;
    const stream = {onopen: null, onerror: null, onmessage: null,
                    close: () => { closed = true; if (source) source.close(); }};
    const fire = (name, event) => { if (stream[name]) stream[name](event); };
    let pause = 1000;
    const again = () => { if (!closed) setTimeout(connect, pause); pause = Math.min(pause * 2, 15000); };

    async function connect() {
      if (closed) return;
      if (!Leitai.token(page)) return refused(base, connect, "");
      let answer;
      try {
        answer = await Leitai.call(page, "POST", base + "/ticket");
      } catch (e) {  // no answer (the network, the gateway): again in a moment
        fire("onerror", e);
        return again();
      }
      if (answer.status === 401 || answer.status === 403) return refused(base, connect, Leitai.errorText(answer));
      if (answer.status !== 200) {
        fire("onerror", new Error(Leitai.errorText(answer)));
        return again();
      }
      if (closed) return;
      source = new EventSource(answer.body.stream);
      source.onopen = (event) => { pause = 1000; fire("onopen", event); };
      source.onmessage = (event) => fire("onmessage", event);
      source.onerror = (event) => {
        fire("onerror", event);
        // a refusal (an expired ticket) ends an EventSource for good: a new ticket, a new stream
        if (source.readyState === EventSource.CLOSED) again();
      };
    }

    connect();
    return stream;
  }

  // The sign-in over the board: the token typed once, kept on this device like a link's (one
  // that was refused is forgotten first).
  function ask(base, connect, message) {
    if (message) Leitai.signOut(PAGE);
    const input = Leitai.el("input", {id: "screen-token", name: "token", type: "password", autocomplete: "off",
                                      required: true});
    const form = Leitai.el("form", {id: "screen-sign-in", onsubmit: (event) => {
      event.preventDefault();
      Leitai.keep(PAGE, input.value.trim());
      form.remove();
      connect();
    }},
      Leitai.el("label", {for: "screen-token", text: "大屏令牌（组织方发放）"}), input,
      Leitai.el("button", {type: "submit", text: "连接"}),
      message ? Leitai.el("div", {class: "message error", role: "alert", text: message}) : null);
    const before = document.getElementById("screen-sign-in");
    if (before) before.remove();
    document.body.append(form);
    input.focus();
  }

  return {open, ask};
})();
