// Builds dist/ (committed: the manager embeds it with include_bytes!). Deterministic: the same
// sources give the same bytes (no timestamps, no absolute paths, no source maps).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";

const out = "dist";
// The server serves exactly these names; anything else in dist/ is a mistake.
const expected = ["app.css", "app.js", "console.css", "index.html", "login.html", "login.js"];

rmSync(out, { recursive: true, force: true });
mkdirSync(out);

const common = {
  bundle: true,
  minify: true,
  sourcemap: false,
  legalComments: "none",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  logLevel: "warning",
  charset: "utf8",
  absWorkingDir: process.cwd(),
};

await build({
  ...common,
  entryPoints: { login: "src/login.ts", app: "src/app.ts" },
  outdir: out,
  format: "iife",
  platform: "browser",
});
await build({
  ...common,
  entryPoints: { console: "src/css/console.css", app: "src/css/app.css" },
  outdir: out,
  loader: { ".svg": "dataurl", ".woff": "empty", ".woff2": "empty" },
});
for (const page of ["login.html", "index.html"]) copyFileSync(`static/${page}`, `${out}/${page}`);

const got = readdirSync(out).sort();
if (JSON.stringify(got) !== JSON.stringify(expected)) {
  console.error(`dist/ holds ${got.join(", ")}; expected ${expected.join(", ")}`);
  process.exit(1);
}
