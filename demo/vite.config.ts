import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import type { InlineConfig } from 'vite'
import { alias } from '../vitest.config'

/** The demo page: the library from its sources, the reference server behind a same-origin proxy. */
export function demoConfig(serverUrl: string): InlineConfig {
  const proxy = { target: serverUrl, changeOrigin: false }
  return {
    root: fileURLToPath(new URL('.', import.meta.url)),
    configFile: false,
    plugins: [react()],
    resolve: { alias },
    server: {
      host: '127.0.0.1',
      port: Number(process.env.DEMO_PORT ?? 5173),
      strictPort: false,
      proxy: { '/auth': proxy, '/stream': proxy, '/__control': proxy },
    },
    logLevel: 'warn',
  }
}
