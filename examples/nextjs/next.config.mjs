import path from 'node:path'
import { fileURLToPath } from 'node:url'

// This example lives inside the library's repository and uses its built `dist/` through the
// symlink node_modules/use-event-stream -> ../../.. (what `"use-event-stream": "file:../.."`
// installs). Turbopack resolves nothing outside its root, so the root is the repository; next,
// react and react-dom then resolve from the repository's node_modules (one copy of React).
// In your own app none of this is needed: `npm install use-event-stream` and an empty config.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** @type {import('next').NextConfig} */
const config = {
  turbopack: { root: repoRoot },
  outputFileTracingRoot: repoRoot,
  // node-redis (used only with REDIS_URL) is loaded from node_modules at run time, not bundled.
  serverExternalPackages: ['redis'],
  poweredByHeader: false,
  reactStrictMode: true,
}

export default config
