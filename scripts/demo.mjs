// `npm run demo`: the reference server and the demo page (Vite), both on 127.0.0.1.
import { tsImport } from 'tsx/esm/api'

const { startReferenceServer } = await tsImport('../reference-server/server.ts', import.meta.url)
const { demoConfig } = await tsImport('../demo/vite.config.ts', import.meta.url)
const { createServer } = await import('vite')

const serverOptions = { host: '127.0.0.1', tokenTtl: Number(process.env.SSE_TOKEN_TTL ?? 30) }
let server
try {
  server = await startReferenceServer({ ...serverOptions, port: Number(process.env.SERVER_PORT ?? 8787) })
} catch (error) {
  if (error?.code !== 'EADDRINUSE') throw error
  // Another demo or server holds the usual port: any free one will do, the page goes through a proxy.
  server = await startReferenceServer({ ...serverOptions, port: 0 })
}
const vite = await createServer(demoConfig(server.url))
await vite.listen()
const url = vite.resolvedUrls?.local[0] ?? `http://127.0.0.1:${vite.config.server.port}/`
console.log(`\n  use-event-stream demo:  ${url}`)
console.log(`  reference server:      ${server.url}  (token lifetime ${process.env.SSE_TOKEN_TTL ?? 30} s)`)
console.log('  Ctrl+C stops both.\n')

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  await vite.close()
  await server.close()
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
