// Build of the website widget: one classic script, `widget.js` (IIFE: works with a plain or
// async <script> tag), with Preact, socket.io-client and the CSS inside (the CSS is injected
// into the widget's shadow root). Output: CSA_WIDGET_OUT_DIR (default <repo>/var/widget), which
// the bridge serves at /widget.js. `npm run build` type-checks first and checks the gzipped
// size afterwards (scripts/check-size.mjs).
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));
const repoRoot = resolve(here, "..");
// Relative paths mean the repository root, like every other CSA_ setting.
const outDir = resolve(repoRoot, process.env.CSA_WIDGET_OUT_DIR || "var/widget");

export default defineConfig({
  plugins: [preact({ prerender: { enabled: false } })],
  // Libraries read process.env.NODE_ENV; a browser has no `process`.
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2020",
    sourcemap: false,
    minify: true,
    copyPublicDir: false,
    reportCompressedSize: false, // scripts/check-size.mjs prints (and enforces) it
    lib: {
      entry: resolve(here, "src/main.tsx"),
      name: "CSAWidgetBundle",
      formats: ["iife"],
      fileName: () => "widget.js",
    },
  },
  // `npm run dev` serves index.html (a test page) with hot reload against a running `make run`.
  server: { port: 5174 },
});
