// The inspector page: a chat over the REST channel and, beside it, the conversation as the
// server pushes it (server-sent events read with fetch, so that a token or JWT can go in the
// Authorization header). Data is put into the page as text nodes, never as HTML; the one
// exception is the flow picture, an SVG the server draws with every label escaped.
"use strict";

const params = new URLSearchParams(location.search);
const token = params.get("token");
const auth = token ? { Authorization: `Bearer ${token}` } : {};
const $ = (id) => document.getElementById(id);
let conversation = params.get("conversation") || newId();
let view = null; // the last conversation pushed
let selected = null; // the turn shown; null follows the latest
let stream = null; // AbortController of the open stream

function newId() {
  return "inspect-" + Math.random().toString(36).slice(2, 10);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function json(value) {
  return JSON.stringify(value);
}

function table(headers, rows, attrs) {
  if (!rows.length) return el("p", { ...attrs, class: "muted" }, "none");
  return el(
    "table",
    attrs,
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows),
  );
}

function status(text) {
  $("status").textContent = text;
}

// -- chat --------------------------------------------------------------------------------

function say(kind, text) {
  const item = el("li", { class: kind }, text);
  $("messages").append(item);
  item.scrollIntoView({ block: "nearest" });
}

async function send(text) {
  say("user", text);
  const response = await fetch("/webhooks/rest/webhook?stream=true", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sender: conversation, message: text }),
  });
  if (!response.ok) {
    status(`The message was not handled: HTTP ${response.status}`);
    return;
  }
  // One JSON message per line, each as soon as the bot produced it.
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (line) showBot(JSON.parse(line));
    }
  }
}

function showBot(message) {
  const parts = [message.text || ""];
  for (const button of message.buttons || []) parts.push(`[${button.title}]`);
  if (message.image) parts.push(`[image ${message.image}]`);
  if (message.custom) parts.push(`[custom ${json(message.custom)}]`);
  say("bot", parts.filter(Boolean).join("\n"));
}

function replayChat(turns) {
  // The transcript of a conversation opened from the store (not typed in this page).
  $("messages").replaceChildren();
  for (const turn of turns) {
    if (turn.user) say("user", turn.user.text);
    for (const bot of turn.bot) say("bot", bot.text || `(${bot.utter_action})`);
  }
}

// -- the pushed conversation --------------------------------------------------------------

async function follow(id, { transcript }) {
  if (stream) stream.abort();
  stream = new AbortController();
  const signal = stream.signal;
  conversation = id;
  $("conversation-id").value = id;
  params.set("conversation", id);
  history.replaceState(null, "", `${location.pathname}?${params}`);
  view = null;
  selected = null;
  render();
  let first = transcript;
  while (!signal.aborted) {
    try {
      const url = `/inspect/api/conversations/${encodeURIComponent(id)}/stream`;
      const response = await fetch(url, { headers: auth, signal });
      if (!response.ok) {
        const hint = response.status === 401 ? " (open the page as /inspect?token=<token>)" : "";
        status(`Cannot read the conversation: HTTP ${response.status}${hint}`);
        return;
      }
      status(`Following conversation ${id}`);
      await readEvents(response, (name, data) => {
        if (name !== "conversation") return;
        view = JSON.parse(data);
        if (first) replayChat(view.turns);
        first = false;
        render();
      });
    } catch (error) {
      if (signal.aborted) return;
      status(`Connection lost (${error}); reconnecting`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function readEvents(response, handle) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) handle(name, data.join("\n"));
    }
  }
}

function render() {
  const turns = view ? view.turns : [];
  $("turns").replaceChildren(
    ...turns.map((turn) => {
      const current = turn.index === shownTurn()?.index;
      const label = turn.user ? turn.user.text : "(session start)";
      const route = turn.routing ? ` → ${turn.routing.system}` : "";
      const button = el(
        "button",
        { type: "button", class: "turn", "aria-current": String(current), "data-turn": turn.index },
        `${turn.index}. ${label}${route}`,
      );
      button.addEventListener("click", () => {
        selected = turn.index === turns[turns.length - 1].index ? null : turn.index;
        render();
      });
      return el("li", {}, button);
    }),
  );
  const turn = shownTurn();
  renderRouting(turn);
  renderParse(turn);
  renderCommands(turn);
  renderStack(turn);
  renderFlow(turn);
  renderActions(turn);
  renderLlm(turn);
  renderEvents(turn);
  renderSlots(turn);
}

function shownTurn() {
  if (!view || !view.turns.length) return null;
  return view.turns.find((t) => t.index === selected) || view.turns[view.turns.length - 1];
}

function renderRouting(turn) {
  const routing = turn && turn.routing;
  if (!routing) {
    $("routing").replaceChildren(el("p", { class: "muted" }, turn && turn.user ? "not routed" : "none"));
    return;
  }
  const verdict = routing.verdict || {};
  $("routing").replaceChildren(
    el(
      "dl",
      { "data-system": routing.system, "data-sticky": String(routing.sticky), "data-reset": String(routing.reset) },
      el("dt", {}, "system"),
      el("dd", {}, `${routing.system} (${routing.sticky ? "sticky" : "this message only"})`),
      el("dt", {}, "router"),
      el("dd", {}, verdict.router || "-"),
      el("dt", {}, "reason"),
      el("dd", {}, verdict.reason || "-"),
      el("dt", {}, "routing slot when the policies ran"),
      el("dd", {}, json(routing.slot)),
      el("dt", {}, "routing session ended in this turn"),
      el("dd", {}, routing.reset ? "yes" : "no"),
    ),
  );
}

function renderParse(turn) {
  const user = turn && turn.user;
  if (!user) {
    $("parse").replaceChildren(el("p", { class: "muted" }, "none"));
    return;
  }
  const ranking = user.intent_ranking.map((i) =>
    el("tr", { "data-intent": i.name }, el("td", {}, i.name), el("td", {}, Number(i.confidence).toFixed(3))),
  );
  const entities = user.entities.map((e) =>
    el(
      "tr",
      { "data-entity": e.entity },
      el("td", {}, e.entity),
      el("td", {}, json(e.value)),
      el("td", {}, `${e.start ?? ""}–${e.end ?? ""}`),
      el("td", {}, e.extractor || ""),
    ),
  );
  $("parse").replaceChildren(
    el("p", { "data-intent": user.intent ? user.intent.name : "" }, "intent: ", el("strong", {}, user.intent ? user.intent.name : "none")),
    table(["intent", "confidence"], ranking),
    el("h4", {}, "Entities"),
    table(["entity", "value", "span", "extractor"], entities),
  );
}

function command(c) {
  const fields = Object.entries(c).filter(([k]) => k !== "command").map(([k, v]) => `${k}=${json(v)}`);
  return `${c.command}(${fields.join(", ")})`;
}

function renderCommands(turn) {
  if (!turn) return $("commands").replaceChildren();
  // Which router or command generator gave each command (recorded with the turn).
  const sourceOf = (c) =>
    (turn.command_sources.find((s) => s.commands.some((d) => JSON.stringify(d) === JSON.stringify(c))) || {})
      .component;
  const items = turn.commands.map((c) => {
    const source = sourceOf(c);
    return el("li", { "data-command": c.command }, command(c) + (source ? ` (from ${source})` : ""));
  });
  const rejected = turn.rejected_commands.map((r) =>
    el("li", { class: "rejected", "data-rejected": r.command.command }, `${command(r.command)}: rejected: ${r.reason}`),
  );
  $("commands").replaceChildren(
    items.length || rejected.length ? el("ul", {}, items, rejected) : el("p", { class: "muted" }, "none"),
  );
}

function stackTable(frames, attrs) {
  return table(
    ["#", "flow / frame", "step", "type", "frame type"],
    frames.map((f, i) =>
      el(
        "tr",
        { "data-flow": f.flow_id || f.type, "data-step": f.step_id || "" },
        el("td", {}, i),
        el("td", {}, f.flow_id || f.type),
        el("td", {}, f.step_id || ""),
        el("td", {}, f.type || ""),
        el("td", {}, f.frame_type || ""),
      ),
    ),
    attrs,
  );
}

function renderStack(turn) {
  if (!turn) return $("stack").replaceChildren();
  const parts = [stackTable(turn.stack, { "data-stack": "after" })];
  for (const before of turn.stacks_before_reset) {
    const title = `Stack just before ${before.reset}`;
    parts.push(el("h4", {}, title), stackTable(before.stack, { "data-stack": before.reset }));
  }
  $("stack").replaceChildren(...parts);
}

async function renderFlow(turn) {
  const position = turn && turn.flow;
  const box = $("flow");
  if (!position) {
    box.replaceChildren(el("p", { class: "muted" }, "no flow on the stack"));
    return;
  }
  const key = `${position.flow_id}@${position.step_id}`;
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  const url = `/inspect/api/flows/${encodeURIComponent(position.flow_id)}.svg?step=${encodeURIComponent(position.step_id || "")}`;
  const response = await fetch(url, { headers: auth });
  if (box.dataset.key !== key) return; // another turn was picked meanwhile
  const caption = el(
    "p",
    { "data-flow": position.flow_id, "data-step": position.step_id || "" },
    `${position.flow_id} at step ${position.step_id}`,
    position.ended_by ? ` (just before ${position.ended_by})` : "",
  );
  if (!response.ok) {
    box.replaceChildren(caption);
    return;
  }
  const picture = el("div", { role: "img", "aria-label": `flow ${position.flow_id}` });
  picture.innerHTML = await response.text(); // drawn by the server, every label escaped
  box.replaceChildren(caption, picture);
}

function renderActions(turn) {
  if (!turn) return $("actions").replaceChildren();
  const actions = turn.actions.map((a) =>
    el(
      "tr",
      { "data-action": a.name },
      el("td", {}, a.name + (a.rejected ? " (rejected)" : "")),
      el("td", {}, a.policy || "-"),
      el("td", {}, a.confidence === null ? "" : Number(a.confidence).toFixed(2)),
    ),
  );
  const slots = turn.slot_changes.map((s) =>
    el("tr", { "data-slot": s.name }, el("td", {}, s.name), el("td", {}, json(s.value)), el("td", {}, s.cause || "slot event")),
  );
  $("actions").replaceChildren(
    table(["action", "policy", "confidence"], actions),
    el("h4", {}, "Slots changed"),
    table(["slot", "value", "by"], slots),
    el("p", {}, "User flows: ", turn.flows.length ? turn.flows.join(", ") : "none"),
  );
}

function renderLlm(turn) {
  const calls = (turn && turn.llm_calls) || [];
  $("llm").replaceChildren(
    calls.length
      ? el(
          "ol",
          {},
          calls.map((c) =>
            el(
              "li",
              { "data-llm-call": c.model },
              el(
                "p",
                {},
                `${c.model} · ${c.replayed ? "from the cassette" : `${c.latency_ms} ms`}` +
                  ` · ${c.usage.prompt_tokens} + ${c.usage.completion_tokens} tokens`,
              ),
              el("details", {}, el("summary", {}, "prompt"), el("pre", {}, c.prompt)),
              el("pre", {}, c.error ? `failed: ${c.error}` : c.answer ?? "(no answer)"),
            ),
          ),
        )
      : el("p", { class: "muted" }, "none recorded"),
  );
}

function renderEvents(turn) {
  if (!turn) return $("events").replaceChildren();
  $("events").replaceChildren(
    el(
      "details",
      {},
      el("summary", {}, `${turn.events.length} events`),
      el("ol", {}, turn.events.map((e) => el("li", { "data-event": e.event }, el("code", {}, json(e))))),
    ),
  );
}

function renderSlots(turn) {
  const slots = turn ? turn.slots : [];
  $("slots").replaceChildren(
    table(
      ["slot", "value", "set in turn"],
      slots.map((s) =>
        el(
          "tr",
          { "data-slot": s.name, "data-value": json(s.value) },
          el("td", {}, s.name),
          el("td", {}, json(s.value)),
          el("td", {}, s.set_in_turn === null ? "-" : s.set_in_turn),
        ),
      ),
    ),
  );
}

// -- conversations and export --------------------------------------------------------------

async function listConversations() {
  const response = await fetch("/inspect/api/conversations", { headers: auth });
  if (!response.ok) return;
  const ids = await response.json();
  $("conversation-list").replaceChildren(...ids.map((id) => el("option", { value: id })));
}

async function exportCase() {
  const url = `/inspect/api/conversations/${encodeURIComponent(conversation)}/e2e.yml`;
  const response = await fetch(url, { headers: auth });
  if (!response.ok) {
    status(`Export failed: HTTP ${response.status}`);
    return;
  }
  const text = await response.text();
  $("export-yaml").textContent = text;
  $("export-section").hidden = false;
  const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/x-yaml" })) });
  link.download = `${conversation.replace(/[^\w-]+/g, "_")}.yml`;
  link.click();
  status("Exported the conversation as an e2e test case");
}

document.addEventListener("DOMContentLoaded", () => {
  $("message-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("message");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text).catch((error) => status(`The message was not sent: ${error}`));
  });
  $("conversation-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("conversation-id").value.trim();
    if (id) follow(id, { transcript: true });
  });
  $("new-conversation").addEventListener("click", () => {
    $("messages").replaceChildren();
    follow(newId(), { transcript: false });
    $("message").focus();
  });
  $("export").addEventListener("click", () => exportCase());
  listConversations();
  follow(conversation, { transcript: true });
  $("message").focus();
});
