// The demo (`npm run demo`: reference server + the Vite page from demo/, which uses TokenProvider,
// useToken and useEventStream) in Chromium, with short tokens and injected failures: no token
// minted during the run may appear in the page's DOM, its console, its storage or its URL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import type { ViteDevServer } from 'vite'
import { startReferenceServer, type ReferenceServer } from '../../reference-server/server'
import { launchChromium, sleep, until } from './support'

let server: ReferenceServer
let vite: ViteDevServer
let browser: Browser
const serverLog: string[] = []

beforeAll(async () => {
  // 3-second tokens: several rotations within the test.
  server = await startReferenceServer({ port: 0, host: '127.0.0.1', tokenTtl: 3, eventInterval: 200, log: (line) => serverLog.push(line) })
  const { demoConfig } = await import('../../demo/vite.config')
  const { createServer } = await import('vite')
  const config = demoConfig(server.url)
  vite = await createServer({ ...config, server: { ...config.server, port: 0, strictPort: false, hmr: false }, logLevel: 'silent' })
  await vite.listen()
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await vite?.close()
  await server?.close()
})

describe('the demo page never shows a token', () => {
  it('DOM, console, storage and URL stay token-free through rotations and failures', async () => {
    const url = vite.resolvedUrls?.local[0]
    expect(url).toBeDefined()
    const context = await browser.newContext()
    const page = await context.newPage()
    const consoleLines: string[] = []
    page.on('console', (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`))
    page.on('pageerror', (error) => consoleLines.push(`pageerror: ${error.message}\n${error.stack ?? ''}`))
    // The tokens the page received, read from the wire as the browser got them.
    const tokens = new Set<string>()
    const pendingBodies: Promise<void>[] = []
    page.on('response', (response) => {
      if (!response.url().includes('/auth/sse-token') || response.status() !== 200) return
      pendingBodies.push(
        response.json().then(
          (body: { token?: string }) => void (body.token && tokens.add(body.token)),
          () => {},
        ),
      )
    })

    await page.goto(url!)
    const count = async (testId: string) => Number((await page.getByTestId(testId).textContent({ timeout: 15_000 })) ?? '0')
    await until(async () => (await count('received-fetch')) >= 3 && (await count('received-eventsource')) >= 3, 20_000, 'events in both panels')

    // Failures whose messages end up in the DOM: a 503, token endpoint 500s, dropped connections.
    for (const label of ['503 + Retry-After', 'Token endpoint: 500 ×3', 'Drop connections after 2 events']) {
      await page.getByRole('button', { name: label }).click()
      await sleep(1500)
    }
    // Long enough for token rotations (3 s tokens) after the token failures.
    await until(async () => tokens.size >= 4, 15_000, 'several tokens')
    await sleep(1000)
    await Promise.all(pendingBodies)

    const html = await page.evaluate(() => document.documentElement.outerHTML)
    const storage = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie, href: location.href }))
    const consoleText = consoleLines.join('\n')
    const logText = serverLog.join('\n')
    console.log(
      `[security] demo: ${tokens.size} tokens minted, ${html.length} chars of DOM, ${consoleLines.length} console lines, ${serverLog.length} server log lines checked; ` +
        `rotations shown: ${await page.getByTestId('token-rotations').textContent()}`,
    )
    expect(tokens.size).toBeGreaterThanOrEqual(4)
    // The failures really reached the page (so error texts were rendered and checked).
    expect(serverLog.some((line) => /\/stream\?.* 503 /.test(line))).toBe(true)
    expect(serverLog.some((line) => /\/auth\/sse-token.* 500 /.test(line))).toBe(true)
    expect(serverLog.some((line) => line.includes('token=[redacted]'))).toBe(true)
    for (const token of tokens) {
      const signature = token.split('.')[2]!
      for (const [where, text] of [
        ['DOM', html],
        ['console', consoleText],
        ['storage/URL', storage],
        ['server log', logText],
      ] as const) {
        expect({ where, hasToken: text.includes(token) || text.includes(encodeURIComponent(token)) || text.includes(signature) }).toEqual({ where, hasToken: false })
      }
    }
    await context.close()
  })
})
