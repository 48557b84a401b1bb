import assert from "node:assert/strict";
import { test } from "node:test";

import { ERROR_EVENT, IdentityRefusals } from "./identity.ts";

function setUp() {
  const target = new EventTarget();
  const events: unknown[] = [];
  target.addEventListener(ERROR_EVENT, (event) => events.push((event as CustomEvent).detail));
  const warnings: string[] = [];
  const refusals = new IdentityRefusals(target, (message) => warnings.push(message));
  return { refusals, events, warnings };
}

test("a refusal warns once per distinct reason and dispatches csa-widget:error every time", () => {
  const { refusals, events, warnings } = setUp();
  const expired = { reason: "expired", detail: "the signed user expired at 2026-01-01T00:00:00Z" };
  refusals.report(expired);
  refusals.report(expired);
  refusals.report({ reason: "bad_signature", detail: "the hash does not match" });
  refusals.report({ reason: "incomplete", detail: "" });
  assert.deepEqual(warnings, [
    "[csa-widget] signed user refused: expired: the signed user expired at 2026-01-01T00:00:00Z",
    "[csa-widget] signed user refused: bad_signature: the hash does not match",
    "[csa-widget] signed user refused: incomplete",
  ]);
  assert.deepEqual(events, [
    { kind: "identity_refused", ...expired },
    { kind: "identity_refused", ...expired },
    { kind: "identity_refused", reason: "bad_signature", detail: "the hash does not match" },
    { kind: "identity_refused", reason: "incomplete", detail: "" },
  ]);
});

test("after setUser (forget) the same reason is warned about again", () => {
  const { refusals, warnings } = setUp();
  refusals.report({ reason: "expired", detail: "d" });
  refusals.forget();
  refusals.report({ reason: "expired", detail: "d" });
  assert.equal(warnings.length, 2);
});
