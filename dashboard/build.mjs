// Bundles the dashboard page (dashboard/src, npm packages) into perp_dashboard/static/ with esbuild: no CDN.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "perp_dashboard", "static");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, "src", "main.js") },
  bundle: true, minify: true, sourcemap: false, format: "iife", target: "es2020",
  outdir: out, logLevel: "warning", legalComments: "none",
});
copyFileSync(join(here, "index.html"), join(out, "index.html"));
console.log(`dashboard: built ${out}`);
