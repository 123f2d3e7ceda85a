// The Expo example bundled by Metro: `expo export` of examples/expo for Android, against the
// library's built dist/ (run `npx tsup` first; scripts/test.sh does), with caches cleared so the
// timing is a cold bundle's. Checks that the bundle exists, holds the library (the React entry, the
// core and the React Native platform, from dist/) and exactly one React: Metro resolving `react`
// from the repository root instead of the app would bundle two, and hooks would break at run time.
//
//   node test/expo/export.test.mjs
//
// Needs examples/expo/node_modules (`npm ci --prefix examples/expo`). Nothing goes to the network:
// EXPO_OFFLINE, no telemetry; `--no-bytecode` keeps the output plain JavaScript to read.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const example = path.join(repo, 'examples/expo')
const out = path.join(example, '.export')
const started = Date.now()

function fail(message) {
  console.log(`  ✗ ${message}`)
  process.exit(1)
}

if (!existsSync(path.join(repo, 'dist/react-native.js'))) fail('dist/ is missing: run `npx tsup` first')
if (!existsSync(path.join(example, 'node_modules/expo/package.json'))) fail('examples/expo/node_modules is missing: run `npm ci --prefix examples/expo`')

rmSync(out, { recursive: true, force: true })
const run = spawnSync(
  process.execPath,
  [path.join(example, 'node_modules/expo/bin/cli'), 'export', '--platform', 'android', '--no-bytecode', '--source-maps', '--clear', '--output-dir', out],
  { cwd: example, encoding: 'utf8', timeout: 5 * 60_000, env: { ...process.env, CI: '1', EXPO_OFFLINE: '1', EXPO_NO_TELEMETRY: '1' } },
)
if (run.status !== 0) fail(`expo export exited with ${run.status ?? run.signal}\n${run.stdout}\n${run.stderr}`)

const dir = path.join(out, '_expo/static/js/android')
const bundle = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.js')) : undefined
if (!bundle) fail(`no Android bundle in ${path.relative(repo, dir)}`)
const code = readFileSync(path.join(dir, bundle), 'utf8')
const sources = JSON.parse(readFileSync(path.join(dir, `${bundle}.map`), 'utf8')).sources

const library = ['dist/index.js', 'dist/core.js', 'dist/react-native.js'].filter((file) => !sources.some((s) => s.endsWith(`../../${file}`)))
if (library.length) fail(`the bundle lacks the library's ${library.join(', ')} (sources: ${sources.filter((s) => !s.includes('node_modules')).join(', ')})`)
// Strings of the fetch transport and the platform that survive minification.
for (const marker of ['text/event-stream', 'Last-Event-ID', 'visibilitychange']) {
  if (!code.includes(marker)) fail(`the bundle has no ${JSON.stringify(marker)}`)
}
const reacts = sources.filter((s) => /(^|\/)node_modules\/react\/cjs\/react\.production\.js$/.test(s))
if (reacts.length !== 1) fail(`expected one React in the bundle, found ${reacts.length}: ${reacts.join(', ')}`)
if (reacts[0].includes('../')) fail(`React comes from outside the app: ${reacts[0]}`)

console.log(`  ✓ expo export (Android, Metro): ${bundle}, ${(code.length / 1e3).toFixed(0)} kB, the library from dist/, one React (${((Date.now() - started) / 1000).toFixed(1)} s)`)
