import assert from "node:assert/strict";
import { test } from "node:test";

import { languageOf, pickLanguage } from "./language.ts";
import { STRINGS } from "./strings.ts";

const none = { stored: null, configured: "auto" as const, htmlLang: null, navigatorLanguages: [] };

test("language tags map to zh / en", () => {
  assert.equal(languageOf("zh-CN"), "zh");
  assert.equal(languageOf("zh_Hant_TW"), "zh");
  assert.equal(languageOf("EN-gb"), "en");
  assert.equal(languageOf("fr"), null);
  assert.equal(languageOf(null), null);
});

test("the customer's choice, then config, then <html lang>, then the browser, then English", () => {
  assert.equal(pickLanguage(none), "en");
  assert.equal(pickLanguage({ ...none, navigatorLanguages: ["fr-FR", "zh-CN", "en"] }), "zh");
  assert.equal(pickLanguage({ ...none, htmlLang: "en", navigatorLanguages: ["zh-CN"] }), "en");
  assert.equal(pickLanguage({ ...none, htmlLang: "zh-CN", configured: "en" }), "en");
  assert.equal(pickLanguage({ ...none, stored: "zh", configured: "en" }), "zh");
  assert.equal(pickLanguage({ ...none, stored: "garbage", htmlLang: "zh" }), "zh");
});

test("both dictionaries have every string, none empty", () => {
  const flatten = (value: unknown): string[] =>
    typeof value === "function"
      ? [String(value(3, "x"))]
      : typeof value === "object" && value
        ? Object.values(value).flatMap(flatten)
        : [String(value)];
  for (const [language, strings] of Object.entries(STRINGS)) {
    assert.deepEqual(Object.keys(strings).sort(), Object.keys(STRINGS.en).sort(), language);
    for (const text of flatten(strings)) assert.ok(text.trim(), `${language}: empty string`);
  }
  assert.notEqual(STRINGS.zh.send, STRINGS.en.send);
});
