// After `vite build`: print the size of widget.js, raw and gzipped, and fail when the gzipped
// bundle is over the budget (60 KB): host pages load it on every visit.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const BUDGET_BYTES = 60 * 1024;
const repoRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "..");
const bundle = resolve(repoRoot, process.env.CSA_WIDGET_OUT_DIR || "var/widget", "widget.js");

const raw = readFileSync(bundle);
const gzipped = gzipSync(raw, { level: 9 }).length;
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`widget.js: ${kb(raw.length)} raw, ${kb(gzipped)} gzipped (budget ${kb(BUDGET_BYTES)} gzipped)`);
if (gzipped > BUDGET_BYTES) {
  console.error(`widget.js is ${kb(gzipped - BUDGET_BYTES)} over its gzipped size budget`);
  process.exit(1);
}
