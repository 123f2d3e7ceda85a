import { defineConfig, type Options } from 'tsup'

// Entries import each other through the package's own name ('use-event-stream/core'),
// kept external, so every entry shares one copy of the core at run time
// (one TokenManager class, one error class hierarchy).
const shared: Options = {
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  target: 'es2022',
  // `redis` is an optional peer of the server/redis entry: the app's own copy is used.
  external: [/^use-event-stream(\/|$)/, 'react', 'react-dom', 'jose', 'redis', /^@redis\//],
  // fetch-event-source ships ESM files in a package without "type": "module", which
  // Node cannot import; we use only its DOM-free parser, so it is bundled in.
  noExternal: ['@microsoft/fetch-event-source'],
  outDir: 'dist',
}

export default defineConfig([
  { ...shared, entry: { core: 'src/entries/core.ts', server: 'src/server/index.ts', 'server-redis': 'src/server/redis.ts', 'react-native': 'src/reactNative/index.ts' }, clean: true },
  // React bindings: "use client" must stay on line 1 of the built files.
  { ...shared, entry: { index: 'src/index.ts', testing: 'src/testing/index.ts' }, banner: { js: '"use client";' } },
])
