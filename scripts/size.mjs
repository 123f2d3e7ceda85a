#!/usr/bin/env node
// Bundle-size budgets, enforced in CI (`npm run size`). Exits 1 on a miss.
//
// Each bundle is what an app ships: esbuild, ESM, browser, minified, react/react-dom external,
// NODE_ENV=production, measured as gzip -9 bytes. By default the package name resolves to the
// sources (the same modules tsup bundles into dist); `--dist` measures the built `dist/*.js`
// (run `npm run build` first). Peers are measured in the same run with the same settings.
//
//   node scripts/size.mjs [--dist] [--json]
import { readFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { bundle, kB, ROOT } from '../bench/lib/build.mjs'
import { applyProposal } from '../bench/proposal/apply.mjs'

/** Budgets in gzip bytes (1 kB = 1000 B). */
export const BUDGETS = { react: 5000, eventsourceOnly: 3000 }

/**
 * Strings that only fetch-event-source's code (or our fetch transport around it) contains.
 * `discardTrailingNewline` is a local of its `getLines` and survives only unminified, so the
 * check also runs on an unminified build; `Bearer ` survives minification.
 */
const FETCH_MARKERS = ['discardTrailingNewline', 'Bearer ']

const REACT_EXPORTS = ['useEventStream', 'TokenProvider', 'useToken']

async function exportsOf(specifier, alias) {
  // The metafile lists an output's export names: how we learn what an entry offers without
  // failing the build on an export that has not landed yet.
  const r = await bundle({ contents: `export * from '${specifier}'` }, { minify: false, alias })
  return r.exportNames
}

function fetchCodeIn(result, unminified) {
  const viaInputs = result.inputs.filter((i) => /fetch-event-source|fetchTransport|sseParser/.test(i))
  const viaText = FETCH_MARKERS.filter((m) => result.code.includes(m) || unminified.code.includes(m))
  return [...viaInputs.map((i) => i.replace(/.*node_modules\//, '')), ...viaText.map((m) => JSON.stringify(m))]
}

/** Measures every bundle. Returns `{ rows, notes, ok }`; never throws for a missing export. */
export async function measureSizes({ dist = false } = {}) {
  const alias = dist ? { distDir: path.join(ROOT, 'dist') } : {}
  if (dist && !existsSync(path.join(ROOT, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first')
  const notes = []
  const rows = []

  // Peers.
  const ruw = await bundle({ contents: `export { useEventSource } from 'react-use-websocket'` })
  const fes = await bundle({ contents: `export { fetchEventSource } from '@microsoft/fetch-event-source'` })

  // Row 1: the React entry, as an app using the hooks imports it (both transports, token manager).
  const reactExports = await exportsOf('use-event-stream', alias)
  const missing = REACT_EXPORTS.filter((e) => !reactExports.includes(e))
  let react
  if (missing.length === 0) {
    react = await bundle({ contents: `export { ${REACT_EXPORTS.join(', ')} } from 'use-event-stream'` }, { alias })
    const hasFetch = react.inputs.some((i) => /fetch-event-source|fetchTransport/.test(i)) || react.code.includes('Bearer ')
    if (!hasFetch) notes.push('React entry bundle does not contain the fetch transport: the row is meant to include both transports.')
  } else {
    notes.push(`React entry does not export ${missing.join(', ')} yet: row 1 cannot be measured.`)
  }
  rows.push({
    id: 'bundle-react',
    row: 'bundle: React entry, both transports (min+gzip)',
    ours: react?.gzip ?? null,
    peer: ruw.gzip,
    peerName: "react-use-websocket's useEventSource",
    ratio: react ? react.gzip / ruw.gzip : null,
    target: `≤ ${kB(BUDGETS.react)}`,
    pass: react ? react.gzip <= BUDGETS.react : false,
    unit: 'B',
    detail: react ? { minified: react.bytes, inputs: react.inputs } : { missing },
  })

  // Row 2: EventSource transport only. Uses the tree-shakeable API when the core has it
  // (`createEventStreamWith`, bench/proposal/README.md); otherwise the best a user can write today.
  const coreExports = await exportsOf('use-event-stream/core', alias)
  const shakeable = coreExports.includes('createEventStreamWith')
  const esEntry = shakeable
    ? `import { createEventStreamWith, createEventSourceTransport } from 'use-event-stream/core'
       export const open = (url) => createEventStreamWith(createEventSourceTransport(), { url })`
    : `import { createEventStream, createEventSourceTransport } from 'use-event-stream/core'
       export const open = (url) => createEventStream({ url, transport: createEventSourceTransport() })`
  const es = await bundle({ contents: esEntry }, { alias })
  const esPlain = await bundle({ contents: esEntry }, { alias, minify: false })
  const contamination = fetchCodeIn(es, esPlain)
  if (!shakeable) notes.push('core has no `createEventStreamWith` yet: row 2 measures `createEventStream({ transport: createEventSourceTransport() })`, which still bundles the fetch transport.')
  rows.push({
    id: 'bundle-eventsource-only',
    row: 'bundle: EventSource transport only, tree-shaken (min+gzip)',
    ours: es.gzip,
    peer: fes.gzip,
    peerName: '@microsoft/fetch-event-source alone',
    ratio: es.gzip / fes.gzip,
    target: `≤ ${kB(BUDGETS.eventsourceOnly)}, no fetch-event-source`,
    pass: es.gzip <= BUDGETS.eventsourceOnly && contamination.length === 0,
    unit: 'B',
    detail: { minified: es.bytes, api: shakeable ? 'createEventStreamWith' : 'createEventStream', fetchCodeFound: contamination, inputs: es.inputs },
  })

  // Informational: the same row with the proposal applied to a copy of src (sources mode only),
  // and the pieces, so a miss can be attributed.
  const info = {}
  if (!dist && !shakeable) {
    const dir = applyProposal()
    if (dir) {
      const p = await bundle({ contents: `import { createEventStreamWith, createEventSourceTransport } from 'use-event-stream/core'
        export const open = (url) => createEventStreamWith(createEventSourceTransport(), { url })` }, { alias: { srcDir: dir } })
      const pPlain = await bundle({ contents: `import { createEventStreamWith, createEventSourceTransport } from 'use-event-stream/core'
        export const open = (url) => createEventStreamWith(createEventSourceTransport(), { url })` }, { alias: { srcDir: dir }, minify: false })
      info.proposalEventSourceOnly = { gzip: p.gzip, minified: p.bytes, fetchCodeFound: fetchCodeIn(p, pPlain) }
    } else notes.push('could not apply bench/proposal to a copy of src (eventStream.ts changed shape).')
  }
  if (!dist) {
    const piece = async (code) => (await bundle({ contents: code })).gzip
    info.pieces = {
      'eventStream+eventsource transport (core, no token manager)': info.proposalEventSourceOnly?.gzip ?? null,
      'createEventSourceTransport alone': await piece(`export { createEventSourceTransport } from 'use-event-stream/core'`),
      'createFetchTransport alone (incl. fetch-event-source parse)': await piece(`export { createFetchTransport } from 'use-event-stream/core'`),
      'createEventStream (both transports)': await piece(`import { createEventStream } from 'use-event-stream/core'; export const f = (url) => createEventStream({ url })`),
      'token manager + fetchTokenFrom': existsSync(path.join(ROOT, 'src/core/tokenManager.ts'))
        ? await piece(`import { createTokenManager } from './src/core/tokenManager'; import { fetchTokenFrom } from './src/core/fetchToken'; export const f = (u) => createTokenManager({ fetchToken: fetchTokenFrom(u) })`)
        : null,
    }
  }
  return { rows, notes, info, ok: rows.every((r) => r.pass) }
}

async function main() {
  const dist = process.argv.includes('--dist')
  const { rows, notes, info, ok } = await measureSizes({ dist })
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ rows, notes, info, ok }, null, 2))
  } else {
    console.log(`bundle sizes (${dist ? 'dist' : 'sources'}; esbuild, ESM, minified, react external, gzip -9)`)
    for (const r of rows) {
      const ours = r.ours === null ? 'n/a' : kB(r.ours)
      const ratio = r.ratio === null ? 'n/a' : r.ratio.toFixed(2) + '×'
      console.log(`  ${r.pass ? 'PASS' : 'MISS'}  ${r.row}: ${ours} (target ${r.target}); ${r.peerName} ${kB(r.peer)}, ratio ${ratio}`)
      if (r.detail?.fetchCodeFound?.length) console.log(`        fetch-event-source code found: ${r.detail.fetchCodeFound.join(', ')}`)
    }
    if (info.proposalEventSourceOnly) console.log(`  info  with bench/proposal applied, EventSource only: ${kB(info.proposalEventSourceOnly.gzip)}${info.proposalEventSourceOnly.fetchCodeFound.length ? ' (fetch code: ' + info.proposalEventSourceOnly.fetchCodeFound.join(', ') + ')' : ', no fetch-event-source code'}`)
    if (info.pieces) for (const [k, v] of Object.entries(info.pieces)) if (v !== null) console.log(`  info  ${k}: ${kB(v)}`)
    for (const n of notes) console.log(`  note  ${n}`)
  }
  process.exitCode = ok ? 0 : 1
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(error)
    process.exit(2)
  })
}
