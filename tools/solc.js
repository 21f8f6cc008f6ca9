#!/usr/bin/env node
// Native-solc look-alike over solc-js (the npm package `solc`), for py-solc-x, brownie and slither.
// Answers `--version` and `--standard-json` (input JSON on stdin, output JSON on stdout); imports are
// read from disk relative to --base-path, every --allow-paths entry, --include-path and the cwd.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const args = process.argv.slice(2);
const roots = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const next = () => args[++i];
  if (a === "--base-path" || a === "--include-path") roots.push(next());
  else if (a.startsWith("--base-path=") || a.startsWith("--include-path=")) roots.push(a.split("=")[1]);
  else if (a === "--allow-paths") roots.push(...next().split(","));
  else if (a.startsWith("--allow-paths=")) roots.push(...a.split("=")[1].split(","));
}
roots.push(process.cwd());

if (args.includes("--version") || args.includes("-v")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  process.stderr.write("this wrapper supports only --version and --standard-json\n");
  process.exit(1);
}

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : roots.filter(Boolean).map((r) => path.resolve(r, importPath));
  for (const candidate of candidates) {
    try {
      return { contents: fs.readFileSync(candidate, "utf8") };
    } catch (_) {
      /* try the next root */
    }
  }
  return { error: `File not found: ${importPath}` };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
