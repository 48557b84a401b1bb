import assert from "node:assert/strict";
import { test } from "node:test";

import { linkify } from "./linkify.ts";

const links = (text: string) => linkify(text).filter((s) => s.kind === "link").map((s) => s.text);

test("plain text stays one text segment", () => {
  assert.deepEqual(linkify("no links here <b>"), [{ kind: "text", text: "no links here <b>" }]);
  assert.deepEqual(linkify(""), []);
});

test("http and https URLs become links; the text around them is kept", () => {
  assert.deepEqual(linkify("See https://shop.example/returns?x=1&y=2 now"), [
    { kind: "text", text: "See " },
    { kind: "link", text: "https://shop.example/returns?x=1&y=2", href: "https://shop.example/returns?x=1&y=2" },
    { kind: "text", text: " now" },
  ]);
  assert.deepEqual(links("a http://a.example b https://b.example/c"), ["http://a.example", "https://b.example/c"]);
});

test("trailing punctuation and Chinese punctuation are not part of the URL", () => {
  assert.deepEqual(links("Go to https://shop.example/help."), ["https://shop.example/help"]);
  assert.deepEqual(links("(see https://shop.example/a)"), ["https://shop.example/a"]);
  assert.deepEqual(links("https://en.wikipedia.org/wiki/Foo_(bar)"), ["https://en.wikipedia.org/wiki/Foo_(bar)"]);
  assert.deepEqual(links("详情见https://shop.example/zh，谢谢。"), ["https://shop.example/zh"]);
  assert.deepEqual(links("请访问 https://shop.example/退货。"), ["https://shop.example/退货"]);
  assert.deepEqual(links('"https://shop.example/q"'), ["https://shop.example/q"]);
});

test("only http(s) becomes a link", () => {
  for (const text of ["javascript:alert(1)", "data:text/html,<script>", "ftp://x.example", "mailto:a@b.c", "xhttps://evil.example", "https://"]) {
    assert.deepEqual(links(text), [], text);
  }
  const [segment] = linkify("https://shop.example/<script>").filter((s) => s.kind === "link");
  assert.equal(segment?.kind === "link" && segment.href, "https://shop.example/");
});
