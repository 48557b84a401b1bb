import assert from "node:assert/strict";
import { test } from "node:test";

import {
  confirmedSession,
  feedbackPayload,
  isFeedbackPayload,
  parseBotUttered,
  ratingScores,
  sessionRequest,
  userUttered,
} from "./protocol.ts";

const SESSION = `w_${"0".repeat(32)}`;

test("payloads the widget emits follow the contract", () => {
  assert.deepEqual(sessionRequest(SESSION), { session_id: SESSION });
  assert.deepEqual(userUttered("hi", SESSION, null), { message: "hi", session_id: SESSION });
  assert.deepEqual(userUttered("/greet", SESSION, { id: "u1", hash: "ff" }), {
    message: "/greet",
    session_id: SESSION,
    customData: { user_id: "u1", user_hash: "ff" },
  });
  assert.equal(confirmedSession(SESSION), SESSION);
  assert.equal(confirmedSession({ session_id: SESSION }), SESSION);
  assert.equal(confirmedSession(42), null);
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
});

test("the CSAT rating is recognised only as five /rate buttons 1-5", () => {
  const rate = (n: number | string) => ({ title: `${n} stars`, payload: `/rate{"rating":"${n}"}` });
  assert.deepEqual(ratingScores([1, 2, 3, 4, 5].map(rate)), [1, 2, 3, 4, 5]);
  assert.equal(ratingScores([1, 2, 3, 4].map(rate)), null);
  assert.equal(ratingScores([1, 2, 3, 4, 4].map(rate)), null);
  assert.equal(ratingScores([1, 2, 3, 4, 6].map(rate)), null);
  assert.equal(ratingScores([...[1, 2, 3, 4].map(rate), { title: "x", payload: "/deny" }]), null);
});
