import assert from "node:assert/strict";
import { test } from "node:test";

import {
  confirmedSession,
  feedbackPayload,
  isFeedbackPayload,
  parseBotUttered,
  parseIdentityRefused,
  ratingScores,
  sessionRequest,
  userUttered,
} from "./protocol.ts";

const SESSION = `w_${"0".repeat(32)}.${"A-_".repeat(14)}x`;
const LEGACY = `w_${"0".repeat(32)}`; // stored by the previous build: sent like any token

test("payloads the widget emits follow the contract", () => {
  assert.deepEqual(sessionRequest(SESSION), { session_id: SESSION });
  assert.deepEqual(sessionRequest(LEGACY), { session_id: LEGACY });
  assert.deepEqual(sessionRequest(null), { session_id: null });
  assert.equal(JSON.stringify(sessionRequest(null)), '{"session_id":null}');
  assert.deepEqual(userUttered("hi", SESSION, null), { message: "hi", session_id: SESSION });
  assert.deepEqual(userUttered("/greet", SESSION, { id: "u1", expires: 1767225600, hash: "ff" }), {
    message: "/greet",
    session_id: SESSION,
    customData: { user_id: "u1", user_expires: 1767225600, user_hash: "ff" },
  });
});

test("session_confirm gives the token as a string or {session_id}; anything else is no token", () => {
  assert.equal(confirmedSession(SESSION), SESSION);
  assert.equal(confirmedSession({ session_id: SESSION }), SESSION);
  assert.equal(confirmedSession(LEGACY), LEGACY);
  assert.equal(confirmedSession("0123456789abcdef0123456789abcdef"), "0123456789abcdef0123456789abcdef"); // Rasa's own uuid
  for (const bad of [42, null, undefined, "", "a b", "a\r\nX-Evil: 1", "é", "x".repeat(201), { session_id: 1 }, [SESSION]]) {
    assert.equal(confirmedSession(bad), null, JSON.stringify(bad));
  }
  assert.equal(confirmedSession("x".repeat(200)), "x".repeat(200));
});

test("identity_refused payloads are read defensively", () => {
  assert.deepEqual(parseIdentityRefused({ reason: "expired", detail: "expired at …" }), {
    reason: "expired",
    detail: "expired at …",
  });
  assert.deepEqual(parseIdentityRefused({ reason: "expiry_too_far", detail: 3 }), { reason: "expiry_too_far", detail: "" });
  assert.equal(parseIdentityRefused({ detail: "no reason" }), null);
  assert.equal(parseIdentityRefused({ reason: "" }), null);
  assert.equal(parseIdentityRefused({ reason: "<b>x</b>" }), null);
  assert.equal(parseIdentityRefused("expired"), null);
  assert.equal(parseIdentityRefused(null), null);
  assert.equal(parseIdentityRefused({ reason: "incomplete", detail: "d".repeat(5000) })?.detail.length, 1000);
});

test("feedback payloads carry the entry id as JSON", () => {
  assert.ok(isFeedbackPayload(feedbackPayload("helpful", "x")) && isFeedbackPayload(feedbackPayload("not_helpful", "x")));
  assert.ok(!isFeedbackPayload("/kb_helpfulness") && !isFeedbackPayload("kb_helpful{"));
  assert.equal(feedbackPayload("helpful", "returns-shipping-fee"), '/kb_helpful{"kb_entry":"returns-shipping-fee"}');
  assert.equal(feedbackPayload("not_helpful", 'a"b'), '/kb_not_helpful{"kb_entry":"a\\"b"}');
});

test("bot messages are read defensively", () => {
  assert.equal(parseBotUttered(null), null);
  assert.equal(parseBotUttered("text"), null);
  assert.equal(parseBotUttered({ text: "  " }), null);
  assert.equal(parseBotUttered({ attachment: { type: "image" } }), null);
  assert.deepEqual(parseBotUttered({ text: "hi" }), { text: "hi", quickReplies: [], metadata: {} });
  const full = parseBotUttered({
    text: "Returns are free.",
    quick_replies: [
      { content_type: "text", title: "Yes", payload: "/affirm" },
      { title: "No title payload" },
      { payload: "/no_title" },
      "junk",
    ],
    metadata: {
      kb_entry_id: "returns-shipping-fee",
      kb_decision: "answer",
      agent: { name: "李娜" },
      handoff: { event: "agent_joined", agent: "李娜" },
      secret: "dropped",
    },
  });
  assert.deepEqual(full, {
    text: "Returns are free.",
    quickReplies: [
      { title: "Yes", payload: "/affirm" },
      { title: "No title payload", payload: "No title payload" },
    ],
    metadata: {
      kbEntryId: "returns-shipping-fee",
      kbDecision: "answer",
      agentName: "李娜",
      handoff: { event: "agent_joined", agent: "李娜" },
    },
  });
  assert.deepEqual(parseBotUttered({ text: "x", metadata: { kb_decision: "maybe", agent: "x" } })?.metadata, {});
  // an agent's reply: signed text for other clients, the words alone shown under the name
  const signed = parseBotUttered({ text: "李娜：您好", metadata: { agent: { name: "李娜", text: "您好" } } });
  assert.deepEqual([signed?.text, signed?.metadata.agentName], ["您好", "李娜"]);
  assert.equal(parseBotUttered({ text: "李娜：您好", metadata: { agent: { text: "您好" } } })?.text, "李娜：您好");
});

test("the CSAT rating is recognised only as five /rate buttons 1-5", () => {
  const rate = (n: number | string) => ({ title: `${n} stars`, payload: `/rate{"rating":"${n}"}` });
  assert.deepEqual(ratingScores([1, 2, 3, 4, 5].map(rate)), [1, 2, 3, 4, 5]);
  assert.equal(ratingScores([1, 2, 3, 4].map(rate)), null);
  assert.equal(ratingScores([1, 2, 3, 4, 4].map(rate)), null);
  assert.equal(ratingScores([1, 2, 3, 4, 6].map(rate)), null);
  assert.equal(ratingScores([...[1, 2, 3, 4].map(rate), { title: "x", payload: "/deny" }]), null);
});
