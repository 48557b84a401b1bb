import assert from "node:assert/strict";
import { test } from "node:test";

import { checkUser, DEFAULT_THEME, resolveConfig, textOn, userArgument } from "./config.ts";

const PAGE = "https://shop.example/products/1";
const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z
const HASH = "ab12".repeat(16);
const USER = { id: "demo-user-1", expires: NOW + 3600, hash: HASH };

test("defaults come from where widget.js was loaded", () => {
  const { config, warnings } = resolveConfig(undefined, "http://127.0.0.1:8000/widget.js", PAGE);
  assert.deepEqual(warnings, []);
  assert.equal(config.bridgeUrl, "http://127.0.0.1:8000");
  assert.equal(config.rasaUrl, "http://127.0.0.1:5005");
  assert.equal(config.siteId, "default");
  assert.equal(config.language, "auto");
  assert.equal(config.position, "right");
  assert.equal(config.themeColor, DEFAULT_THEME);
  assert.equal(config.user, null);
});

test("a relative script URL resolves against the page", () => {
  const { config } = resolveConfig({}, "/widget.js", PAGE);
  assert.equal(config.bridgeUrl, "https://shop.example");
  assert.equal(config.rasaUrl, "https://shop.example:5005");
});

test("the documented options are taken as given", () => {
  const { config, warnings } = resolveConfig(
    {
      rasaUrl: "https://rasa.example/",
      bridgeUrl: "https://crm.example:8443",
      siteId: "demo-shop",
      language: "zh",
      themeColor: "#FFCC00",
      position: "left",
      user: USER,
    },
    null,
    PAGE,
    NOW,
  );
  assert.deepEqual(warnings, []);
  assert.equal(config.rasaUrl, "https://rasa.example");
  assert.equal(config.bridgeUrl, "https://crm.example:8443");
  assert.equal(config.siteId, "demo-shop");
  assert.equal(config.language, "zh");
  assert.equal(config.themeColor, "#ffcc00");
  assert.equal(config.themeText, "#1f2328"); // dark text on a light accent
  assert.equal(config.position, "left");
  assert.deepEqual(config.user, USER);
});

test("bad values fall back to defaults with a warning each", () => {
  const { config, warnings } = resolveConfig(
    {
      rasaUrl: "javascript:alert(1)",
      bridgeUrl: 42,
      siteId: "../../x",
      language: "fr",
      themeColor: "red;background:url(x)",
      position: "top",
      user: { id: "u1", expires: NOW, hash: "<script>" },
    },
    "http://127.0.0.1:8000/widget.js",
    PAGE,
    NOW,
  );
  assert.equal(warnings.length, 7);
  assert.match(warnings[6], /user\.hash must be the hex HMAC-SHA256.*the visitor stays anonymous$/);
  assert.equal(config.rasaUrl, "http://127.0.0.1:5005");
  assert.equal(config.bridgeUrl, "http://127.0.0.1:8000");
  assert.equal(config.siteId, "default");
  assert.equal(config.language, "auto");
  assert.equal(config.themeColor, DEFAULT_THEME);
  assert.equal(config.position, "right");
  assert.equal(config.user, null);
});

test("text on the accent colour stays readable", () => {
  assert.equal(textOn("#d9363e"), "#ffffff");
  assert.equal(textOn("#000"), "#ffffff");
  assert.equal(textOn("#fff"), "#1f2328");
  assert.equal(textOn("#ffcc00"), "#1f2328");
});

test("a signed user needs a positive integer expiry (unix seconds) and a hex hash", () => {
  const bad: [unknown, RegExp][] = [
    [{ id: "u1", hash: HASH }, /user\.expires must be a positive integer \(unix seconds\), not undefined/], // the previous build's form
    [{ id: "u1", expires: "1767229200", hash: HASH }, /not "1767229200"/],
    [{ id: "u1", expires: NOW + 0.5, hash: HASH }, /positive integer/],
    [{ id: "u1", expires: 0, hash: HASH }, /positive integer/],
    [{ id: "u1", expires: -5, hash: HASH }, /positive integer/],
    [{ id: "u1", expires: Number.NaN, hash: HASH }, /not NaN/],
    [{ id: "u1", expires: NOW, hash: "xyz" }, /user\.hash must be the hex/],
    [{ id: "u1", expires: NOW, hash: "" }, /user\.hash/],
    [{ id: "", expires: NOW, hash: HASH }, /user\.id must be a string of 1-255/],
    [{ id: 7, expires: NOW, hash: HASH }, /user\.id/],
    [{ id: "x".repeat(256), expires: NOW, hash: HASH }, /user\.id/],
    ["demo-user-1", /user must be \{id: string, expires: unix seconds, hash: hex string\}/],
    [[USER], /user must be/],
  ];
  for (const [value, message] of bad) {
    const checked = checkUser(value, NOW);
    assert.equal(checked.user, null, JSON.stringify(value));
    assert.match(checked.error ?? "", message);
    const { config, warnings } = resolveConfig({ user: value }, null, PAGE, NOW);
    assert.equal(config.user, null);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /the visitor stays anonymous$/);
  }
  assert.deepEqual(checkUser(null, NOW), { user: null, error: null, warnings: [] });
  assert.deepEqual(checkUser(USER, NOW), { user: USER, error: null, warnings: [] });
  // Only the three fields are kept.
  assert.deepEqual(checkUser({ ...USER, secret: "s3cret" }, NOW).user, USER);
});

test("a signed user already expired at load is sent anyway, with a warning", () => {
  const expired = { ...USER, expires: NOW - 60 };
  const { config, warnings } = resolveConfig({ user: expired }, null, PAGE, NOW);
  assert.deepEqual(config.user, expired);
  assert.deepEqual(warnings, [
    "the signed user expired at 2025-12-31T23:59:00.000Z; sign a fresh one when rendering the page",
  ]);
  const millis = checkUser({ ...USER, expires: (NOW + 3600) * 1000 }, NOW);
  assert.ok(millis.user);
  assert.match(millis.warnings[0], /looks like milliseconds; it is unix seconds/);
});

test("CSAWidget.setUser takes a signed user or null and throws a TypeError otherwise", () => {
  assert.deepEqual(userArgument(USER, NOW), { user: USER, warnings: [] });
  assert.deepEqual(userArgument(null, NOW), { user: null, warnings: [] });
  const late = userArgument({ ...USER, expires: NOW - 1 }, NOW);
  assert.deepEqual(late.user, { ...USER, expires: NOW - 1 });
  assert.match(late.warnings[0], /^the signed user expired at /);
  assert.throws(() => userArgument(undefined, NOW), { name: "TypeError", message: /^CSAWidget\.setUser: a signed user/ });
  assert.throws(() => userArgument({ id: "u1", hash: HASH }, NOW), {
    name: "TypeError",
    message: "CSAWidget.setUser: user.expires must be a positive integer (unix seconds), not undefined",
  });
  assert.throws(() => userArgument({ ...USER, hash: "nope" }, NOW), TypeError);
  assert.throws(() => userArgument("demo-user-1", NOW), TypeError);
});
