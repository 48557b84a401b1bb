import assert from "node:assert/strict";
import { test } from "node:test";

import { MIN_PASSWORD_LENGTH, passwordProblem } from "./passwords.ts";

test("the bridge's rules: length, not the login, not only spaces", () => {
  assert.equal(MIN_PASSWORD_LENGTH, 10);
  assert.equal(passwordProblem("short", { login: "wang" }), "passwordTooShort");
  assert.equal(passwordProblem("123456789", { login: "wang" }), "passwordTooShort");
  assert.equal(passwordProblem("1234567890", { login: "wang" }), null);
  assert.equal(passwordProblem("Agent.Wang1", { login: "agent.wang1" }), "passwordIsLogin");
  assert.equal(passwordProblem(" ".repeat(12), { login: "wang" }), "passwordOnlySpaces");
});

test("a change must differ from the current password and be typed twice alike", () => {
  const check = { login: "wang", current: "old passphrase" };
  assert.equal(passwordProblem("old passphrase", { ...check, repeat: "old passphrase" }), "passwordUnchanged");
  assert.equal(passwordProblem("new passphrase", { ...check, repeat: "new passphrase!" }), "passwordsDiffer");
  assert.equal(passwordProblem("new passphrase", { ...check, repeat: "new passphrase" }), null);
});
