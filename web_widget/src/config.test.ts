import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULT_THEME, resolveConfig, textOn } from "./config.ts";

const PAGE = "https://shop.example/products/1";

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
      user: { id: "demo-user-1", hash: "ab12" },
    },
    null,
    PAGE,
  );
  assert.deepEqual(warnings, []);
  assert.equal(config.rasaUrl, "https://rasa.example");
  assert.equal(config.bridgeUrl, "https://crm.example:8443");
  assert.equal(config.siteId, "demo-shop");
  assert.equal(config.language, "zh");
  assert.equal(config.themeColor, "#ffcc00");
  assert.equal(config.themeText, "#1f2328"); // dark text on a light accent
  assert.equal(config.position, "left");
  assert.deepEqual(config.user, { id: "demo-user-1", hash: "ab12" });
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
      user: { id: "u1", hash: "<script>" },
    },
    "http://127.0.0.1:8000/widget.js",
    PAGE,
  );
  assert.equal(warnings.length, 7);
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
