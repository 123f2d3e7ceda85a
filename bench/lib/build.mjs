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

const SUBPATHS = { '': 'index', '/core': 'entries/core', '/server': 'server/index', '/server/redis': 'server/redis', '/testing': 'testing/index', '/react-native': 'reactNative/index' }
const DIST = { '': 'index.js', '/core': 'core.js', '/server': 'server.js', '/server/redis': 'server-redis.js', '/testing': 'testing.js', '/react-native': 'react-native.js' }

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
      b.onResolve({ filter: /^use-event-stream(\/(core|server|server\/redis|testing|react-native))?$/ }, (args) => {
        const sub = args.path.slice('use-event-stream'.length)
        if (distDir) return { path: path.join(distDir, DIST[sub]) }
        const base = path.join(srcDir, SUBPATHS[sub])
        for (const ext of ['.ts', '.tsx']) if (existsSync(base + ext)) return { path: base + ext }
        return { path: base + '.ts' }
      })
    },
  }
}

/** esbuild plugin: the modules at the given absolute paths are replaced by the given source. */
function replaceModules(replacements) {
  return {
    name: 'replace-modules',
    setup(b) {
      for (const [file, contents] of Object.entries(replacements)) {
        const filter = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)
        b.onLoad({ filter }, () => ({ contents, loader: file.endsWith('x') ? 'tsx' : 'ts' }))
      }
    },
  }
}

/**
 * The source of a module that exports the same names as `file` (absolute path), each `undefined`:
 * what a feature's module is replaced by to measure a bundle as if the feature did not exist (the
 * callers keep their call sites; everything only the module reaches drops out).
 */
export async function stubOf(file) {
  const result = await build({ entryPoints: [file], bundle: false, write: false, metafile: true, format: 'esm', logLevel: 'silent' })
  const names = Object.values(result.metafile.outputs)[0].exports ?? []
  return names.map((name) => `export const ${name} = undefined`).join('\n')
}

/**
 * Bundles `entry` (a file path, or `{ contents, resolveDir }`) for the browser.
 * Returns `{ code, bytes, gzip, inputs, byModule }` (`inputs`: metafile input paths that contributed
 * bytes; `byModule`: `[path, minified bytes]` of each, largest first; with `splitting`, of the initial chunks).
 *
 * `splitting: true` splits dynamic imports into chunks of their own, as app bundlers (Vite,
 * Rollup, webpack, Next.js) do: `code`, `bytes`, `gzip` and `inputs` are then those of the initial
 * chunks (the entry and what it imports statically, concatenated), and `lazy` lists the chunks
 * loaded only by a dynamic `import()`, each `{ bytes, gzip, inputs }`. Without it, esbuild inlines
 * dynamic imports. `replace`: `{ absolutePath: source }`, modules swapped for the build.
 */
export async function bundle(entry, { minify = true, external = ['react', 'react-dom', 'react/jsx-runtime'], alias = {}, format = 'esm', platform = 'browser', target = 'es2020', define = {}, outfile, stubReactEntry = false, splitting = false, replace } = {}) {
  const options = {
    bundle: true,
    write: !!outfile,
    outfile,
    ...(splitting ? { splitting: true, outdir: path.join(OUT, 'split'), write: false } : {}),
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
    plugins: [packageAlias(alias, stubReactEntry), ...(replace ? [replaceModules(replace)] : [])],
  }
  if (typeof entry === 'string') options.entryPoints = [entry]
  else options.stdin = { contents: entry.contents, resolveDir: entry.resolveDir ?? ROOT, loader: entry.loader ?? 'ts', sourcefile: 'entry.ts' }
  const result = await build(options)
  if (splitting) return splitResult(result)
  const out = Object.values(result.metafile.outputs)[0]
  const inputs = Object.entries(out.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k)
  let code
  if (outfile) code = (await import('node:fs')).readFileSync(outfile, 'utf8')
  else code = result.outputFiles[0].text
  // Minified bytes each module contributes, largest first (where the bytes of a bundle come from).
  const byModule = Object.entries(out.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k, v]) => [k.replace(/.*node_modules\//, ''), v.bytesInOutput]).sort((a, b) => b[1] - a[1])
  return { code, bytes: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).length, inputs, byModule, exportNames: out.exports ?? [], warnings: result.warnings }
}

/** The initial chunks (entry + static imports, transitively) as one, and the lazy ones apart. */
function splitResult(result) {
  const outputs = result.metafile.outputs
  const text = new Map(result.outputFiles.map((f) => [path.relative(process.cwd(), f.path), f.text]))
  const entry = Object.keys(outputs).find((k) => outputs[k].entryPoint)
  const initial = []
  const visit = (file) => {
    if (initial.includes(file)) return
    initial.push(file)
    for (const i of outputs[file].imports) if (i.kind === 'import-statement' && outputs[i.path]) visit(i.path)
  }
  visit(entry)
  const inputsOf = (file) => Object.entries(outputs[file].inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k)
  const code = initial.map((f) => text.get(f)).join('\n')
  const minified = new Map()
  for (const file of initial) {
    for (const [input, v] of Object.entries(outputs[file].inputs)) {
      const name = input.replace(/.*node_modules\//, '')
      if (v.bytesInOutput > 0) minified.set(name, (minified.get(name) ?? 0) + v.bytesInOutput)
    }
  }
  const byModule = [...minified].sort((a, b) => b[1] - a[1])
  const lazy = Object.keys(outputs)
    .filter((f) => !initial.includes(f))
    .map((f) => ({ file: path.basename(f), bytes: Buffer.byteLength(text.get(f)), gzip: gzipSync(text.get(f), { level: 9 }).length, inputs: inputsOf(f) }))
  return { code, bytes: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).length, inputs: initial.flatMap(inputsOf), byModule, lazy, chunks: initial.length, exportNames: outputs[entry].exports ?? [], warnings: result.warnings }
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
