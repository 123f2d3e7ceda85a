#!/usr/bin/env node
// Bundle-size budgets, enforced in CI (`npm run size`, and `scripts/test.sh`).
//
// Each bundle is what an app ships: esbuild, ESM, browser, minified, react/react-dom external,
// `process.env.NODE_ENV` defined as "production" (so dev-only warnings and explanations drop
// out), measured as gzip -9 bytes. By default the package name resolves to the sources (the same
// modules tsup bundles into dist); `--dist` measures the built `dist/*.js` (run `npm run build`
// first). Peers are measured in the same run with the same settings.
//
// Two limits per bundle:
// - TARGETS: the goal for each bundle (the targets of bench/README.md's rows). Meeting it prints PASS.
// - CEILINGS: the regression ceiling. While a target is missed, the row prints
//   "MISS target … by …" but the script still exits 0 as long as the bundle is at or under the
//   ceiling (the achieved size rounded up to the next 0.1 kB), so any growth fails CI while the
//   target stays visible. Lower a ceiling whenever a change makes the bundle smaller; never
//   raise one without saying why in bench/README.md.
// The EventSource-only bundle must also contain no fetch-event-source code, whatever its size.
//
// The React entry is measured as app bundlers ship it: dynamic imports split into chunks of their
// own (esbuild `splitting`), its size being the initial chunks. Sharing streams across tabs
// (`crossTab`) loads its code that way, so apps that never use it pay for 0.3 kB at most: the
// loader (src/crossTab/lazy.ts), and the option's plumbing in the React binding (the stream key,
// the TokenProvider prop, a follower's latest event shown by the hook), which was 81 B when it was
// added (292 B in all, against the entry before). The `crossTab` row is the React entry minus the
// same entry with the loader stubbed out: a target of 220 B, so the whole stays within 0.3 kB (its
// ceiling is 240 B: the loader's gzip share moves with the rest of the bundle; bench/README.md).
// The chunk itself is printed as information.
//
// Every other feature has such a row too (FEATURES below: the transports, the token manager,
// overlap rotation, the idle watchdog, pause-when-hidden, render batching): what it costs an app
// that does not use it, with a target of 0.3 kB and a ceiling each.
//
//   node scripts/size.mjs [--dist] [--json]
import { existsSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { bundle, kB, ROOT, stubOf } from '../bench/lib/build.mjs'

/**
 * Targets in gzip bytes (1 kB = 1000 B); bench/README.md's rows name them. `crossTab`: the cross-tab
 * loader's share of the 0.3 kB that apps not using `crossTab` may pay for it (see above).
 */
export const TARGETS = {
  react: 8500,
  eventsourceOnly: 3000,
  crossTab: 220,
  // A feature an app does not use costs it at most 0.3 kB (see FEATURES).
  fetchTransport: 300,
  eventSourceTransport: 300,
  tokens: 300,
  overlapRotation: 300,
  idleWatchdog: 300,
  pauseWhenHidden: 300,
  renderBatching: 300,
}
/** Regression ceilings in gzip bytes: the achieved size rounded up to the next 100 B (`crossTab`: 20 B over its target, see bench/README.md). */
export const CEILINGS = {
  react: 13700,
  eventsourceOnly: 6300,
  crossTab: 240,
  fetchTransport: 1700,
  eventSourceTransport: 700,
  tokens: 100,
  overlapRotation: 100,
  idleWatchdog: 100,
  pauseWhenHidden: 100,
  renderBatching: 100,
}

/**
 * Strings that only fetch-event-source's code (or our fetch transport around it) contains.
 * `discardTrailingNewline` is a local of its `getLines` and survives only unminified, so the
 * check also runs on an unminified build; `Bearer ` survives minification.
 */
const FETCH_MARKERS = ['discardTrailingNewline', 'Bearer ']

/**
 * What the React entry's bytes buy, feature by feature: each module of the bundle goes to the first
 * group whose pattern matches its path (minified bytes, so they add up; gzip does not split by
 * module). bench/README.md says why each group stays.
 */
const REACT_FEATURES = [
  ['React layer (provider, hooks, hook store, batching, cross-tab loader)', /^src\/(react|crossTab)\//],
  ['token manager and fetchTokenFrom (refresh before expiry, one request in flight, retries, lifetime from the JWT)', /core\/(tokenManager|fetchToken|tokenResponse|jwt)\.ts$/],
  ["the stream's token handling and overlap rotation (waiting for the manager, 401 refresh, make-before-break)", /core\/(streamTokens|rotation)\.ts$/],
  ['fetch transport (fetch-event-source getLines, the spec parser, the response check it shares with the probe)', /fetchTransport|sseParser|fetch-event-source|streamResponse/],
  ['EventSource transport with its status probe', /eventSourceTransport/],
  ['exactly-once resume (the stream position and its replay filter)', /core\/position\.ts$/],
  ["one connection per stream key, and 'auto'", /core\/registry\.ts$|entries\/createEventStream\.ts$/],
  ['tokens kept out of error messages (redaction)', /core\/redact\.ts$/],
  ['the stream state machine and its host (reconnect, backoff, deadlines on two clocks, lifecycle, options, errors)', /./],
]

/** `byModule` summed into `REACT_FEATURES`: `[feature, minified bytes]`, in the table's order. */
function byFeature(byModule) {
  const totals = new Map(REACT_FEATURES.map(([name]) => [name, 0]))
  for (const [module, bytes] of byModule) {
    const [name] = REACT_FEATURES.find(([, pattern]) => pattern.test(module))
    totals.set(name, totals.get(name) + bytes)
  }
  return [...totals]
}

/** What an app using the hooks imports (the React row of bench/README.md). */
const REACT_EXPORTS = ['TokenProvider', 'useEventStream', 'useToken', 'fetchTokenFrom']
/** The cross-tab loader replaced by a module that never shares: the React entry as if cross-tab sharing did not exist. */
const NO_CROSS_TAB = {
  [path.join(ROOT, 'src/crossTab/lazy.ts')]: `export const createCrossTabEventStream = (options, make) => make(options)`,
}
const ES_ENTRY = `import { createEventStreamWith, createEventSourceTransport } from 'use-event-stream/core'
export const open = (url) => createEventStreamWith(createEventSourceTransport(), { url })`

/**
 * One row per feature: what it costs an app that does not use it, measured as the crossTab row
 * is: the `base` bundle (`'es'`: the EventSource-only app, `'react'`: the React entry) minus the
 * same bundle with the feature's `modules` replaced by stubs that export the same names as
 * `undefined` (`stubOf`), i.e. as if the feature did not exist. Each row also prints what the
 * feature weighs in the React entry, which uses every feature. A feature is measurable this way
 * only as a module of its own that the stream reaches through a narrow seam.
 *
 * - The transports: every app of the hooks bundles both, since `'auto'` is resolved at run time
 *   (an app that wants one calls `createEventStreamWith` from the core, which bundles only it).
 * - The token manager: the stream's token handling (`streamTokens.ts`: waiting for the manager,
 *   rejected-token versions and the 401 refresh, dormant until a new token, rotation on a new
 *   token) and the manager itself; an app streaming without tokens bundles neither.
 * - Overlap rotation: the make-before-break unit (`rotation.ts`), reached only through
 *   `overlapRotation` (the `rotation` option's default name).
 * - The idle watchdog and pause-when-hidden: units of their own behind numeric options, so every
 *   stream bundles them (see bench/README.md: kept, their cost is under the target).
 * - Render batching: the React layer's unit (`react/batching.ts`, the flush scheduling), measured
 *   in the React entry. A feature whose module is missing prints a note instead of a row.
 */
const FEATURES = [
  { key: 'fetchTransport', name: 'fetch transport (with fetch-event-source getLines)', base: 'react', modules: ['src/transports/fetchTransport.ts'], peer: 'fes' },
  { key: 'eventSourceTransport', name: 'EventSource transport (with its status probe)', base: 'react', modules: ['src/transports/eventSourceTransport.ts'] },
  { key: 'tokens', name: 'token manager (the stream\'s token handling, the manager)', base: 'es', modules: ['src/core/streamTokens.ts', 'src/core/tokenManager.ts'] },
  { key: 'overlapRotation', name: 'overlap rotation', base: 'es', modules: ['src/core/rotation.ts'] },
  { key: 'idleWatchdog', name: 'idle watchdog (idleTimeout)', base: 'es', modules: ['src/core/idleWatchdog.ts'] },
  { key: 'pauseWhenHidden', name: 'pause when hidden (pauseWhenHidden)', base: 'es', modules: ['src/core/hiddenPause.ts'] },
  { key: 'renderBatching', name: 'render batching (batch, React layer)', base: 'react', modules: ['src/react/batching.ts'] },
]

function fetchCodeIn(result, unminified) {
  const viaInputs = result.inputs.filter((i) => /fetch-event-source|fetchTransport|sseParser/.test(i))
  const viaText = FETCH_MARKERS.filter((m) => result.code.includes(m) || unminified.code.includes(m))
  return [...viaInputs.map((i) => i.replace(/.*node_modules\//, '')), ...viaText.map((m) => JSON.stringify(m))]
}

/** Target, then ceiling: `{ pass, withinCeiling, over }` (`over`: bytes above the target). */
function judge(bytes, key, extraOk = true) {
  const over = bytes - TARGETS[key]
  return { pass: over <= 0 && extraOk, withinCeiling: bytes <= CEILINGS[key] && extraOk, over }
}

/** Measures every bundle. Returns `{ rows, notes, info, ok }`; `ok` is what CI enforces. */
export async function measureSizes({ dist = false } = {}) {
  const alias = dist ? { distDir: path.join(ROOT, 'dist') } : {}
  if (dist && !existsSync(path.join(ROOT, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first')
  const notes = []
  const rows = []

  // Peers.
  const ruw = await bundle({ contents: `export { useEventSource } from 'react-use-websocket'` })
  const fes = await bundle({ contents: `export { fetchEventSource } from '@microsoft/fetch-event-source'` })

  // Row 1: the React entry, as an app using the hooks imports it (both transports, token manager).
  // esbuild fails the build on a missing export, which is the right outcome in CI.
  const reactEntry = { contents: `export { ${REACT_EXPORTS.join(', ')} } from 'use-event-stream'` }
  const react = await bundle(reactEntry, { alias, splitting: true })
  // The React Native platform is its own entry: a web app using the hooks must not ship it.
  if (react.inputs.some((i) => i.includes('reactNative'))) notes.push('The React entry bundles src/reactNative: apps that never import use-event-stream/react-native pay for it.')
  // Async iteration is a module of its own: the hooks (and TanStack Query or SWR recipes that do not iterate) never ship it.
  if (react.inputs.some((i) => i.endsWith('core/iterate.ts'))) notes.push('The React entry bundles src/core/iterate.ts: apps that never call iterateEvents pay for it.')
  const hasFetch = react.inputs.some((i) => /fetch-event-source|fetchTransport/.test(i)) || react.code.includes('Bearer ')
  if (!hasFetch) notes.push('React entry bundle does not contain the fetch transport: the row is meant to include both transports.')
  rows.push({
    id: 'bundle-react',
    key: 'react',
    row: 'bundle: React entry, both transports (min+gzip)',
    ours: react.gzip,
    peer: ruw.gzip,
    peerName: "react-use-websocket's useEventSource",
    ratio: react.gzip / ruw.gzip,
    target: `≤ ${kB(TARGETS.react)}`,
    ceiling: CEILINGS.react,
    ...judge(react.gzip, 'react'),
    unit: 'B',
    detail: { imports: REACT_EXPORTS, minified: react.bytes, initialChunks: react.chunks, inputs: react.inputs, lazyChunks: react.lazy.map(({ file, gzip, inputs }) => ({ file, gzip, inputs })) },
  })

  // Row 1b: what cross-tab sharing costs an app that never uses it (sources only: the stub
  // replaces a source file).
  if (!dist) {
    const without = await bundle(reactEntry, { splitting: true, replace: NO_CROSS_TAB })
    const chunk = react.lazy.find((c) => c.inputs.some((i) => i.includes('crossTab/crossTabStream')))
    if (!chunk) notes.push('The React entry has no lazy cross-tab chunk: the cross-tab code is bundled into the initial chunks.')
    const cost = react.gzip - without.gzip
    rows.push({
      id: 'bundle-react-crosstab',
      key: 'crossTab',
      row: 'bundle: React entry, cost of crossTab when unused (min+gzip)',
      ours: cost,
      peer: without.gzip,
      peerName: 'the React entry without the cross-tab loader',
      ratio: react.gzip / without.gzip,
      target: `≤ ${kB(TARGETS.crossTab)}; the rest in a lazy chunk`,
      ceiling: CEILINGS.crossTab,
      ...judge(cost, 'crossTab', !!chunk),
      unit: 'B',
      detail: { withCrossTab: react.gzip, withoutCrossTab: without.gzip, lazyChunk: chunk && { gzip: chunk.gzip, minified: chunk.bytes } },
    })
  }

  // Row 2: EventSource transport only, through the tree-shakeable `createEventStreamWith`.
  const esEntry = { contents: ES_ENTRY }
  const es = await bundle(esEntry, { alias })
  const esPlain = await bundle({ contents: ES_ENTRY }, { alias, minify: false })
  const contamination = fetchCodeIn(es, esPlain)
  rows.push({
    id: 'bundle-eventsource-only',
    key: 'eventsourceOnly',
    row: 'bundle: EventSource transport only, tree-shaken (min+gzip)',
    ours: es.gzip,
    peer: fes.gzip,
    peerName: '@microsoft/fetch-event-source alone',
    ratio: es.gzip / fes.gzip,
    target: `≤ ${kB(TARGETS.eventsourceOnly)}, no fetch-event-source`,
    ceiling: CEILINGS.eventsourceOnly,
    ...judge(es.gzip, 'eventsourceOnly', contamination.length === 0),
    unit: 'B',
    detail: { minified: es.bytes, api: 'createEventStreamWith', fetchCodeFound: contamination, inputs: es.inputs },
  })

  // Rows 3…: what each feature costs an app that does not use it (sources only: stubs replace source files).
  if (!dist) {
    const bases = {
      react: { bundle: react, name: 'the React entry', build: (replace) => bundle(reactEntry, { splitting: true, replace }) },
      es: { bundle: es, name: 'the EventSource-only app', build: (replace) => bundle(esEntry, { replace }) },
    }
    for (const feature of FEATURES) {
      const files = feature.modules.map((m) => path.join(ROOT, m))
      if (!files.every((f) => existsSync(f))) {
        notes.push(`Feature row "${feature.name}" not measured: ${feature.modules.join(', ')} is not on this branch yet.`)
        continue
      }
      const stubs = Object.fromEntries(await Promise.all(files.map(async (f) => [f, await stubOf(f)])))
      const base = bases[feature.base]
      const without = await base.build(stubs)
      const cost = base.bundle.gzip - without.gzip
      // What the feature weighs where it is used: the React entry uses every feature.
      const inReact = feature.base === 'react' ? cost : react.gzip - (await bases.react.build(stubs)).gzip
      const peer = feature.peer === 'fes' ? { gzip: fes.gzip, name: '@microsoft/fetch-event-source alone' } : { gzip: without.gzip, name: `${base.name} without it` }
      rows.push({
        id: `bundle-feature-${feature.key}`,
        key: feature.key,
        row: `bundle: cost of the ${feature.name} when unused, in ${base.name} (min+gzip)`,
        ours: cost,
        peer: peer.gzip,
        peerName: peer.name,
        ratio: cost / peer.gzip,
        target: `≤ ${kB(TARGETS[feature.key])}`,
        ceiling: CEILINGS[feature.key],
        ...judge(cost, feature.key),
        unit: 'B',
        detail: { base: feature.base, modules: feature.modules, withFeature: base.bundle.gzip, withoutFeature: without.gzip, inReactEntry: inReact },
      })
    }
  }

  // Informational: the pieces, measured alone (they overlap), so a miss can be attributed.
  const info = {}
  if (!dist) {
    const piece = async (code) => (await bundle({ contents: code }, { splitting: true })).gzip
    info.pieces = {
      'createEventSourceTransport alone': await piece(`export { createEventSourceTransport } from 'use-event-stream/core'`),
      'createFetchTransport alone (incl. fetch-event-source getLines)': await piece(`export { createFetchTransport } from 'use-event-stream/core'`),
      'createEventStream (both transports)': await piece(`import { createEventStream } from 'use-event-stream/core'; export const f = (url) => createEventStream({ url })`),
      'token manager + fetchTokenFrom': await piece(`import { createTokenManager, fetchTokenFrom } from 'use-event-stream/core'; export const f = (u) => createTokenManager({ fetchToken: fetchTokenFrom(u) })`),
      'React Native platform (its own entry, use-event-stream/react-native; not in the React entry)': await piece(`export { createReactNativePlatform } from 'use-event-stream/react-native'`),
      'iterateEvents (async iteration, TanStack Query streamedQuery; not in the React entry)': await piece(`export { iterateEvents } from 'use-event-stream/core'`),
      'cross-tab chunk (lazy, loaded only with crossTab)': rows.find((r) => r.id === 'bundle-react-crosstab')?.detail.lazyChunk?.gzip,
    }
    // Where the EventSource-only bundle's bytes come from (minified, before gzip), to attribute its miss.
    info.eventsourceOnlyByModule = es.byModule
    info.reactByFeature = byFeature(react.byModule)
  }
  return { rows, notes, info, ok: rows.every((r) => r.withinCeiling) }
}

async function main() {
  const dist = process.argv.includes('--dist')
  const { rows, notes, info, ok } = await measureSizes({ dist })
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ targets: TARGETS, ceilings: CEILINGS, rows, notes, info, ok }, null, 2))
  } else {
    console.log(`bundle sizes (${dist ? 'dist' : 'sources'}; esbuild, ESM, minified, NODE_ENV=production, react external, gzip -9)`)
    for (const r of rows) {
      const verdict = r.pass ? 'PASS' : r.withinCeiling ? 'MISS' : 'FAIL'
      console.log(`  ${verdict}  ${r.row}: ${kB(r.ours)} (target ${r.target}); ${r.peerName} ${kB(r.peer)}, ratio ${r.ratio.toFixed(2)}×`)
      if (r.detail?.inReactEntry !== undefined && r.detail.base !== 'react') console.log(`        in the React entry, which uses it: ${kB(r.detail.inReactEntry)}`)
      if (r.detail?.fetchCodeFound?.length) console.log(`        FAIL fetch-event-source code found: ${r.detail.fetchCodeFound.join(', ')}`)
      if (!r.pass && r.over > 0) {
        console.log(`        MISS target ${(TARGETS[r.key] / 1000).toFixed(1)} kB by ${(r.over / 1000).toFixed(2)} kB`)
        console.log(
          r.ours <= r.ceiling
            ? `        regression ceiling ${kB(r.ceiling)} holds (${r.ceiling - r.ours} B of headroom)`
            : `        FAIL regression ceiling ${kB(r.ceiling)} exceeded by ${r.ours - r.ceiling} B: the bundle grew`,
        )
      } else if (r.pass && r.ours < r.ceiling - 100) console.log(`        note: target met; CEILINGS.${r.key} (${kB(r.ceiling)}) can be lowered to the target`)
    }
    if (info.pieces) for (const [k, v] of Object.entries(info.pieces)) console.log(`  info  ${k}: ${kB(v)}`)
    if (info.reactByFeature) {
      const total = info.reactByFeature.reduce((sum, [, bytes]) => sum + bytes, 0)
      console.log(`  info  React entry by feature (minified bytes, ${total} in all):`)
      for (const [name, bytes] of info.reactByFeature) console.log(`          ${String(bytes).padStart(6)} B  ${String(Math.round((bytes / total) * 100)).padStart(2)} %  ${name}`)
    }
    if (info.eventsourceOnlyByModule) console.log(`  info  EventSource-only bundle by module (minified bytes): ${info.eventsourceOnlyByModule.map(([m, b]) => `${m.replace(/^src\//, '')} ${b}`).join(', ')}`)
    for (const n of notes) console.log(`  note  ${n}`)
    console.log(ok ? 'size: ok (every bundle within its ceiling)' : 'size: FAILED')
  }
  process.exitCode = ok ? 0 : 1
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(error)
    process.exit(2)
  })
}
