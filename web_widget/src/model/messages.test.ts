import assert from "node:assert/strict";
import { test } from "node:test";

import type { HistoryLine } from "../api/history.ts";
import type { OutboxItem } from "../outbox.ts";
import type { BotMessage } from "../transport/protocol.ts";
import { type ChatAction, chatReducer, type ChatState, initialChat, nothingRemembered } from "./messages.ts";

const run = (...actions: ChatAction[]): ChatState => actions.reduce(chatReducer, initialChat);
const bot = (text: string, extra: Partial<BotMessage> = {}): BotMessage => ({ text, quickReplies: [], metadata: {}, ...extra });
const item = (id: string, text: string | null = id): OutboxItem => ({ id, message: text ?? "/x", text, at: 0 });
const line = (id: string, role: HistoryLine["role"], text: string, agentName: string | null = null): HistoryLine => ({
  id,
  role,
  text,
  at: null,
  agentName,
  kbEntryId: null,
});
const summary = (state: ChatState) => state.messages.map((m) => `${m.role}:${m.text}${m.pending ? "…" : ""}`);

test("history comes first, then what is queued or live", () => {
  const state = run(
    { type: "queued", item: item("c-1", "offline question"), pending: true },
    { type: "history", lines: [line("h-1", "customer", "hi"), line("h-2", "agent", "hello", "李娜")], remembered: nothingRemembered },
    { type: "history", lines: [line("h-1", "customer", "hi")], remembered: nothingRemembered }, // twice: no duplicates
  );
  assert.deepEqual(summary(state), ["customer:hi", "agent:hello", "customer:offline question…"]);
  assert.equal(state.messages[1].agentName, "李娜");
});

test("a queued message is pending until sent; sending starts the typing indicator, a bot message ends it", () => {
  let state = run({ type: "queued", item: item("c-1"), pending: true });
  assert.equal(state.messages[0].pending, true);
  assert.equal(state.typing, 0);
  state = chatReducer(state, { type: "sent", item: item("c-1") });
  assert.equal(state.messages[0].pending, false);
  assert.ok(state.typing > 0);
  const again = chatReducer(state, { type: "sent", item: item("c-2") });
  assert.ok(again.typing > state.typing, "a second message restarts the 10 s timer");
  state = chatReducer(state, { type: "bot", id: "b-1", message: bot("answer") });
  assert.equal(state.typing, 0);
  assert.equal(chatReducer(again, { type: "typingTimeout" }).typing, 0);
});

test("replies arriving while customer messages wait go above them (the order Rasa sees)", () => {
  const state = run(
    { type: "queued", item: item("c-1", "first"), pending: true },
    { type: "sent", item: item("c-1", "first") },
    { type: "queued", item: item("c-2", "second"), pending: true }, // waits for c-1 to be handled
    { type: "bot", id: "b-1", message: bot("reply to first") },
    { type: "sent", item: item("c-2", "second") },
    { type: "bot", id: "b-2", message: bot("reply to second") },
  );
  assert.deepEqual(summary(state), ["customer:first", "bot:reply to first", "customer:second", "bot:reply to second"]);
});

test("silent messages (feedback votes) show no bubble and no typing indicator", () => {
  const state = run({ type: "queued", item: item("c-1", null), pending: false }, { type: "sent", item: item("c-1", null) });
  assert.deepEqual(state, initialChat);
});

test("quick replies: a click removes the group, so does any customer message", () => {
  const replies = [{ title: "Yes", payload: "/affirm" }];
  let state = run({ type: "bot", id: "b-1", message: bot("Sure?", { quickReplies: replies }) });
  assert.deepEqual(state.messages[0].quickReplies, replies);
  assert.equal(chatReducer(state, { type: "replied", messageId: "b-1" }).messages[0].quickReplies, undefined);
  state = chatReducer(state, { type: "queued", item: item("c-1", "something else"), pending: false });
  assert.equal(state.messages[0].quickReplies, undefined);
});

test("saved quick replies come back on the last history line after a reload", () => {
  const replies = [{ title: "5", payload: '/rate{"rating":"5"}' }];
  const saved = { text: "Rate us", replies };
  const state = run({ type: "history", lines: [line("h-1", "bot", "Rate us")], remembered: { ...nothingRemembered, replies: saved } });
  assert.deepEqual(state.messages[0].quickReplies, replies);
  const other = run({ type: "history", lines: [line("h-1", "bot", "Rate us"), line("h-2", "customer", "5")], remembered: { ...nothingRemembered, replies: saved } });
  assert.equal(other.messages[0].quickReplies, undefined);
});

test("knowledge answers offer feedback once, under the last part of a split answer", () => {
  const kb = { kbEntryId: "returns", kbDecision: "answer" as const };
  let state = run(
    { type: "bot", id: "b-1", message: bot("Part one", { metadata: kb }) },
    { type: "bot", id: "b-2", message: bot("Part two", { metadata: kb }) },
  );
  assert.equal(state.messages[0].kb, undefined);
  assert.deepEqual(state.messages[1].kb, { entryId: "returns", vote: null });
  state = chatReducer(state, { type: "voted", messageId: "b-2", vote: "helpful" });
  assert.deepEqual(state.messages[1].kb, { entryId: "returns", vote: "helpful" });
  const clarify = run({ type: "bot", id: "b-1", message: bot("Did you mean", { metadata: { kbDecision: "clarify" } }) });
  assert.equal(clarify.messages[0].kb, undefined);
  const chosen = run({ type: "bot", id: "b-1", message: bot("Picked", { metadata: { kbEntryId: "x", kbDecision: "chosen" } }) });
  assert.deepEqual(chosen.messages[0].kb, { entryId: "x", vote: null });
});

test("restored knowledge answers look as they did: feedback under the last part, votes remembered", () => {
  const answer = (id: string, text: string, kbEntryId: string): HistoryLine => ({ ...line(id, "bot", text), kbEntryId });
  const state = run({
    type: "history",
    lines: [
      line("h-1", "customer", "returns?"),
      answer("h-2", "Part one", "returns"),
      answer("h-3", "Part two", "returns"),
      line("h-4", "customer", "delivery?"),
      answer("h-5", "Three days", "delivery"),
      line("h-6", "agent", "hi", "李娜"),
    ],
    remembered: { ...nothingRemembered, votes: { returns: "not_helpful" } },
  });
  assert.deepEqual(
    state.messages.map((m) => m.kb ?? null),
    [null, null, { entryId: "returns", vote: "not_helpful" }, null, { entryId: "delivery", vote: null }, null],
  );
});

test("agent messages and handoff notices", () => {
  const state = run(
    { type: "bot", id: "b-1", message: bot("李娜 已接入", { metadata: { handoff: { event: "agent_joined", agent: "李娜" } } }) },
    { type: "bot", id: "b-2", message: bot("我来帮您", { metadata: { agentName: "李娜" } }) },
    { type: "bot", id: "b-3", message: bot("Back in the queue (2)", { metadata: { handoff: { event: "back_in_queue", agent: "李娜" } } }) },
  );
  assert.deepEqual(
    state.messages.map((m) => [m.role, m.text, m.notice?.event, m.agentName]),
    [
      ["system", "李娜 已接入", "agent_joined", undefined],
      ["agent", "我来帮您", undefined, "李娜"],
      ["system", "Back in the queue (2)", "back_in_queue", undefined],
    ],
  );
});

test("another tab's queue: new items appear pending, items that left it are sent", () => {
  let state = run({ type: "outbox", items: [item("c-1"), item("c-2")] });
  assert.deepEqual(summary(state), ["customer:c-1…", "customer:c-2…"]);
  state = chatReducer(state, { type: "outbox", items: [item("c-2")] });
  assert.deepEqual(summary(state), ["customer:c-1", "customer:c-2…"]);
  state = chatReducer(state, { type: "outbox", items: [] });
  assert.deepEqual(summary(state), ["customer:c-1", "customer:c-2"]);
});

test("restored customer lines: votes stay hidden, clicked buttons show their titles", () => {
  const state = run({
    type: "history",
    lines: [
      line("h-1", "bot", "Answer"),
      line("h-2", "customer", '/kb_helpful{"kb_entry":"returns"}'),
      line("h-3", "customer", '/ask_kb{"kb_entry":"returns"}'),
      line("h-4", "customer", '/rate{"rating":"5"}'),
      line("h-5", "customer", "/restart"),
    ],
    remembered: { ...nothingRemembered, titles: { '/ask_kb{"kb_entry":"returns"}': "How do I return?", '/rate{"rating":"5"}': "5 Very happy" } },
  });
  assert.deepEqual(summary(state), ["bot:Answer", "customer:How do I return?", "customer:5 Very happy", "customer:/restart"]);
});

test("reset empties the transcript", () => {
  assert.deepEqual(chatReducer(run({ type: "bot", id: "b-1", message: bot("x") }), { type: "reset" }), initialChat);
});

test("a new conversation (another token confirmed) drops what was shown, keeps what is still queued", () => {
  const shown = run(
    { type: "history", lines: [line("h-1", "customer", "my order?"), line("h-2", "bot", "It shipped")], remembered: nothingRemembered },
    { type: "queued", item: item("c-1", "sent live"), pending: true },
    { type: "sent", item: item("c-1", "sent live") },
    { type: "bot", id: "b-1", message: bot("live answer") },
    { type: "queued", item: item("c-2", "typed offline"), pending: true },
  );
  assert.equal(shown.messages.length, 5);
  const fresh = chatReducer(shown, { type: "newConversation" });
  assert.deepEqual(summary(fresh), ["customer:typed offline…"]);
  assert.equal(fresh.typing, 0);
});
