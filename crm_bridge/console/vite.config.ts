// Build of the agent console (Preact + TypeScript). `npm run build` type-checks, then bundles
// into CSA_CONSOLE_OUT_DIR (default <repo>/var/console), which the bridge serves at /console/.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

const repoRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "..");
// Relative paths mean the repository root, like every other CSA_ setting.
const outDir = resolve(repoRoot, process.env.CSA_CONSOLE_OUT_DIR || "var/console");
const bridge = `http://127.0.0.1:${process.env.CSA_BRIDGE_PORT || "8000"}`;

export default defineConfig({
  base: "/console/",
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2020",
    sourcemap: false,
    reportCompressedSize: true,
  },
  // `npm run dev`: hot reload against a running bridge (`make run`).
  server: {
    proxy: { "/api": { target: bridge, ws: true } },
  },
});
