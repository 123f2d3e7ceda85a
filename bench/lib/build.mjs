// Shared esbuild helpers for the benchmarks and scripts/size.mjs.
// The package name `use-event-stream[/x]` resolves to the sources (as tsconfig paths do), or to a
// given directory (a patched copy of `src`, or `dist`) so a variant can be measured without
// touching the work tree.
import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const OUT = path.join(ROOT, 'bench/out')

const SUBPATHS = { '': 'index', '/core': 'entries/core', '/server': 'server/index', '/server/redis': 'server/redis', '/testing': 'testing/index' }
const DIST = { '': 'index.js', '/core': 'core.js', '/server': 'server.js', '/server/redis': 'server-redis.js', '/testing': 'testing.js' }

/**
 * esbuild plugin: `use-event-stream` and its subpaths → `srcDir` sources (`.ts`), or the built
 * `dist/*.js` files when `distDir` is given.
 */
export function packageAlias({ srcDir = path.join(ROOT, 'src'), distDir } = {}, stubReactEntry = false) {
  return {
    name: 'use-event-stream-alias',
    setup(b) {
      if (stubReactEntry) {
        b.onResolve({ filter: /^use-event-stream$/ }, () => ({ path: 'stub', namespace: 'stub' }))
        b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export {}', loader: 'js' }))
      }
      b.onResolve({ filter: /^use-event-stream(\/(core|server|server\/redis|testing))?$/ }, (args) => {
        const sub = args.path.slice('use-event-stream'.length)
        if (distDir) return { path: path.join(distDir, DIST[sub]) }
        const base = path.join(srcDir, SUBPATHS[sub])
        for (const ext of ['.ts', '.tsx']) if (existsSync(base + ext)) return { path: base + ext }
        return { path: base + '.ts' }
      })
    },
  }
}

/**
 * Bundles `entry` (a file path, or `{ contents, resolveDir }`) for the browser.
 * Returns `{ code, bytes, gzip, inputs }` (`inputs`: metafile input paths that contributed bytes).
 */
export async function bundle(entry, { minify = true, external = ['react', 'react-dom', 'react/jsx-runtime'], alias = {}, format = 'esm', platform = 'browser', target = 'es2020', define = {}, outfile, stubReactEntry = false } = {}) {
  const options = {
    bundle: true,
    write: !!outfile,
    outfile,
    minify,
    format,
    platform,
    target,
    external,
    metafile: true,
    logLevel: 'silent',
    jsx: 'automatic',
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"', ...define },
    plugins: [packageAlias(alias, stubReactEntry)],
  }
  if (typeof entry === 'string') options.entryPoints = [entry]
  else options.stdin = { contents: entry.contents, resolveDir: entry.resolveDir ?? ROOT, loader: entry.loader ?? 'ts', sourcefile: 'entry.ts' }
  const result = await build(options)
  const out = Object.values(result.metafile.outputs)[0]
  const inputs = Object.entries(out.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k)
  let code
  if (outfile) code = (await import('node:fs')).readFileSync(outfile, 'utf8')
  else code = result.outputFiles[0].text
  return { code, bytes: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).length, inputs, exportNames: out.exports ?? [], warnings: result.warnings }
}

/** Bundles a Node script (ESM) to `outfile`, keeping node_modules external except the ones that need bundling. */
export async function bundleNode(entry, outfile, { alias = {} } = {}) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    // fetch-event-source ships ESM in a non-"type: module" package: Node cannot import it, bundle it.
    packages: 'bundle',
    // redis (node-redis) stays a package import, as in an app.
    external: ['playwright-core', 'esbuild', 'eventsource', 'redis', 'vitest'],
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [packageAlias(alias)],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  })
  return outfile
}

export const kB = (n) => (n / 1000).toFixed(2) + ' kB'
