// Builds the widget bundles (`npm run build`) or bundles and runs the unit tests (`npm test`).
//
//   node build.mjs          src/{status,subscriptions,explorer}.ts
//                           → ../realm_jupyter/widgets/static/{status,subscriptions,explorer}.js
//   node build.mjs --watch  the same, rebuilding on change (pair with ANYWIDGET_HMR=1)
//   node build.mjs --test   test/*.test.ts → node_modules/.cache/realm-jupyter-tests/*.mjs,
//                           then `node --test` on them
//
// Each widget is one self-contained ES module: anywidget loads a single file per widget, so
// there is no code splitting. The stylesheet is inlined as text (see src/css.d.ts).
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const WIDGETS = ["status", "subscriptions", "explorer"];
const common = { bundle: true, format: "esm", loader: { ".css": "text" }, logLevel: "warning" };

async function buildWidgets(watch) {
  const options = {
    ...common,
    entryPoints: WIDGETS.map((name) => join(here, "src", `${name}.ts`)),
    outdir: join(here, "..", "realm_jupyter", "widgets", "static"),
    minify: true,
    target: "es2022",
    legalComments: "none",
  };
  if (watch) {
    const context = await esbuild.context({ ...options, logLevel: "info" });
    await context.watch();
    return;
  }
  const result = await esbuild.build({ ...options, metafile: true });
  for (const [file, { bytes }] of Object.entries(result.metafile.outputs)) {
    console.log(
      `${file.replace(/^.*realm_jupyter/, "realm_jupyter")}  ${(bytes / 1024).toFixed(1)} kB`,
    );
  }
}

async function runTests() {
  const testDir = join(here, "test");
  const outdir = join(here, "node_modules", ".cache", "realm-jupyter-tests");
  rmSync(outdir, { recursive: true, force: true });
  const entries = readdirSync(testDir).filter((f) => f.endsWith(".test.ts"));
  await esbuild.build({
    ...common,
    entryPoints: entries.map((f) => join(testDir, f)),
    outdir,
    outExtension: { ".js": ".mjs" },
    platform: "node",
    target: "node20",
    packages: "bundle",
    external: ["node:*"],
    sourcemap: "inline",
  });
  const files = entries.map((f) => join(outdir, f.replace(/\.ts$/, ".mjs")));
  const run = spawnSync(
    process.execPath,
    ["--enable-source-maps", "--test", "--test-reporter=spec", ...files],
    {
      stdio: "inherit",
    },
  );
  process.exitCode = run.status ?? 1;
}

const args = new Set(process.argv.slice(2));
if (args.has("--test")) await runTests();
else await buildWidgets(args.has("--watch"));
