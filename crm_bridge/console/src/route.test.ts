import assert from "node:assert/strict";
import { test } from "node:test";

import { handoffIdFromPath, isAgentsPath, pathForHandoff } from "./route.ts";

test("client routes: the queue, a conversation, the agents page", () => {
  assert.equal(handoffIdFromPath("/console/handoffs/12"), 12);
  assert.equal(handoffIdFromPath("/console/"), null);
  assert.equal(pathForHandoff(12), "/console/handoffs/12");
  assert.equal(isAgentsPath("/console/agents"), true);
  assert.equal(isAgentsPath("/console/agents/"), true);
  assert.equal(isAgentsPath("/console/handoffs/12"), false);
  assert.equal(isAgentsPath("/elsewhere/agents"), false);
});
