// The Next.js example end to end: build the library (tsup), `next build` the example against the
// built package, `next start` it on 127.0.0.1, and drive it with Debian's Chromium.
//
//   node test/nextjs/next.test.mjs            (SKIP_LIB_BUILD=1 reuses dist/, SKIP_NEXT_BUILD=1 reuses .next/)
//
// Prints `N passed, N failed` last and exits non-zero on any failure.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { chromiumLaunchOptions } from '../../scripts/chromium.mjs'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const example = path.join(repo, 'examples/nextjs')
const nextBin = path.join(repo, 'node_modules/next/dist/bin/next')
const TOKEN_TTL = 5 // seconds: short, so a rotation happens within the test
const started = Date.now()
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`

const results = []
async function check(name, fn) {
  const t0 = Date.now()
  try {
    await fn()
    results.push({ name, ok: true })
    console.log(`  ✓ ${name} (${Date.now() - t0} ms)`)
  } catch (error) {
    results.push({ name, ok: false })
    console.log(`  ✗ ${name} (${Date.now() - t0} ms)\n    ${String(error?.stack ?? error).split('\n').slice(0, 4).join('\n    ')}`)
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message)
}
function finish() {
  const passed = results.filter((r) => r.ok).length
  const failed = results.length - passed
  console.log(`\nNext.js example: ${elapsed()}`)
  console.log(`${passed} passed, ${failed} failed`)
  process.exitCode = failed > 0 ? 1 : 0
}

/** Runs a command, streaming nothing; resolves with its output, rejects on a non-zero exit. */
function run(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}\n${output}`))))
  })
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** `"use-event-stream": "file:../.."`, as npm would link it, without npm (no registry access). */
function linkLibrary() {
  const link = path.join(example, 'node_modules/use-event-stream')
  mkdirSync(path.dirname(link), { recursive: true })
  if (existsSync(link)) {
    assert(readlinkSync(link) === '../../..', `${link} exists but does not point at the repository`)
    return
  }
  symlinkSync('../../..', link, 'dir')
}

const env = {
  ...process.env,
  NEXT_TELEMETRY_DISABLED: '1',
  SSE_TOKEN_TTL: String(TOKEN_TTL),
  SSE_TOKEN_SECRET: randomBytes(32).toString('hex'),
  SESSION_SECRET: randomBytes(32).toString('hex'),
  TICK_MS: '250',
}

let server
let serverOutput = ''
let browser

async function main() {
  console.log('Next.js example (examples/nextjs)')

  if (process.env.SKIP_LIB_BUILD !== '1') {
    const t0 = Date.now()
    await run('npx', ['tsup', '--silent'], { cwd: repo, env })
    console.log(`  library built (tsup) in ${Date.now() - t0} ms`)
  }
  linkLibrary()

  await check('the built React entry keeps "use client" on line 1 (Next.js needs it)', () => {
    for (const file of ['dist/index.js', 'dist/index.cjs']) {
      const head = readFileSync(path.join(repo, file), 'utf8').slice(0, 14)
      assert(/^["']use client["']/.test(head), `${file} starts with ${JSON.stringify(head)}`)
    }
  })

  let buildOutput = ''
  if (process.env.SKIP_NEXT_BUILD !== '1') {
    const t0 = Date.now()
    await check('next build succeeds (Turbopack, against the built package)', async () => {
      buildOutput = await run(process.execPath, [nextBin, 'build'], { cwd: example, env: { ...env, NODE_ENV: 'production' } })
      console.log(`    next build took ${Date.now() - t0} ms`)
    })
    await check('next build prints no warning and no client/server boundary error', () => {
      const suspicious = buildOutput
        .split('\n')
        .filter((line) => /⚠|warn|window is not defined|document is not defined|use client|useState only works|Error:/i.test(line))
        // Next's own notice on a first build (a fresh clone, as in CI): about its cache, not the library.
        .filter((line) => !/No build cache found/.test(line))
      assert(suspicious.length === 0, `build output has:\n${suspicious.join('\n')}`)
    })
  }
  if (results.some((r) => !r.ok && r.name.startsWith('next build'))) return

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  server = spawn(process.execPath, [nextBin, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: example,
    env: { ...env, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so stopping it also stops any worker it forked
  })
  server.stdout.on('data', (d) => (serverOutput += d))
  server.stderr.on('data', (d) => (serverOutput += d))

  await check('next start serves the page on 127.0.0.1', async () => {
    for (let i = 0; i < 100; i++) {
      const response = await fetch(base).catch(() => undefined)
      if (response?.ok) return
      if (server.exitCode !== null) throw new Error(`next start exited ${server.exitCode}\n${serverOutput}`)
      await sleep(200)
    }
    throw new Error(`not ready after 20 s\n${serverOutput}`)
  })
  if (!results.at(-1).ok) return

  await check('the routes refuse requests without a session or a valid token (401)', async () => {
    const tokenResponse = await fetch(`${base}/api/sse-token`, { method: 'POST' })
    assert(tokenResponse.status === 401, `POST /api/sse-token without a session: ${tokenResponse.status}`)
    const none = await fetch(`${base}/api/stream`)
    assert(none.status === 401, `GET /api/stream without a token: ${none.status}`)
    const forged = await fetch(`${base}/api/stream?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA`)
    assert(forged.status === 401, `GET /api/stream with a forged token: ${forged.status}`)
    const body = await forged.json()
    assert(!JSON.stringify(body).includes('eyJ'), 'the 401 body echoes the token')
  })

  // A session for the Node-level checks: sign in as the form does.
  const signIn = await fetch(`${base}/api/session`, { method: 'POST', body: new URLSearchParams({ action: 'signin' }), redirect: 'manual' })
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]

  // Runs alongside the browser checks: it takes TOKEN_TTL seconds by design.
  const streamEnds = check(`the stream ends when its token expires (${TOKEN_TTL} s), Bearer header accepted`, async () => {
    assert(cookie.startsWith('demo_session='), `sign-in set no session cookie (status ${signIn.status})`)
    const { token, expiresIn } = await (await fetch(`${base}/api/sse-token`, { method: 'POST', headers: { cookie } })).json()
    assert(typeof token === 'string' && expiresIn === TOKEN_TTL, 'token response shape')
    const t0 = Date.now()
    const response = await fetch(`${base}/api/stream`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } })
    assert(response.status === 200, `status ${response.status}`)
    assert(response.headers.get('content-type')?.startsWith('text/event-stream'), 'content type')
    const reader = response.body.getReader()
    let text = ''
    const deadline = setTimeout(() => reader.cancel(), (TOKEN_TTL + 4) * 1000)
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      text += Buffer.from(value).toString()
    }
    clearTimeout(deadline)
    const seconds = (Date.now() - t0) / 1000
    assert(seconds < TOKEN_TTL + 2, `the stream outlived its token: ${seconds.toFixed(1)} s`)
    assert(/event: tick/.test(text) && /id: \d+/.test(text), 'no tick events received')
  })

  browser = await chromium.launch(chromiumLaunchOptions())
  const page = await browser.newPage()
  const tokens = []
  const streamRequests = []
  const consoleErrors = []
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => consoleErrors.push(String(error)))
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (url.pathname === '/api/stream') streamRequests.push({ query: url.searchParams, authorization: request.headers().authorization })
  })
  page.on('response', async (response) => {
    if (new URL(response.url()).pathname !== '/api/sse-token') return
    const body = await response.json().catch(() => undefined)
    if (typeof body?.token === 'string') tokens.push(body.token)
  })

  const panel = (transport) => page.getByTestId(`panel-${transport}`)
  const read = async (transport) =>
    panel(transport).evaluate((el) => ({
      status: el.dataset.status,
      received: Number(el.dataset.received),
      first: Number(el.dataset.first),
      last: Number(el.dataset.last),
      gaps: Number(el.dataset.gaps),
      duplicates: Number(el.dataset.duplicates),
      openCount: Number(el.dataset.openCount),
      transport: el.dataset.transport,
    }))
  const waitFor = async (what, predicate, timeout) => {
    const t0 = Date.now()
    let last
    while (Date.now() - t0 < timeout) {
      last = await predicate()
      if (last === true) return
      await sleep(100)
    }
    throw new Error(`timed out after ${timeout} ms waiting for ${what}${last && last !== true ? `: ${JSON.stringify(last)}` : ''}`)
  }

  await check('sign in, then both panels reach open and receive events', async () => {
    await page.goto(base)
    await page.getByRole('button', { name: /sign in/i }).click()
    await panel('eventsource').waitFor()
    for (const transport of ['eventsource', 'fetch']) {
      await waitFor(`${transport} open with 3 events`, async () => {
        const s = await read(transport)
        return (s.status === 'open' && s.received >= 3 && s.transport === transport) || s
      }, 10_000)
    }
  })

  await check('each transport carries the token its own way (?token= vs Authorization: Bearer)', () => {
    const viaQuery = streamRequests.filter((r) => r.query.has('token'))
    const viaHeader = streamRequests.filter((r) => r.authorization?.startsWith('Bearer '))
    assert(viaQuery.length >= 1, 'no EventSource request with ?token=')
    assert(viaHeader.length >= 1, 'no fetch request with Authorization: Bearer')
    assert(viaHeader.every((r) => !r.query.has('token')), 'the fetch transport put the token in the URL')
  })

  await check('a token rotation: new token, each panel switches connection, no id lost or repeated', async () => {
    const before = { eventsource: await read('eventsource'), fetch: await read('fetch') }
    const expiresBefore = await page.getByTestId('token').getAttribute('data-expires-at')
    const tokensBefore = tokens.length
    await waitFor('a new token', async () => tokens.length > tokensBefore && (await page.getByTestId('token').getAttribute('data-expires-at')) !== expiresBefore, (TOKEN_TTL + 5) * 1000)
    for (const transport of ['eventsource', 'fetch']) {
      // After the switch the panel keeps receiving on the new connection.
      await waitFor(`${transport} rotated and still streaming`, async () => {
        const s = await read(transport)
        return (s.openCount > before[transport].openCount && s.status === 'open' && s.received >= before[transport].received + 4) || s
      }, (TOKEN_TTL + 5) * 1000)
      const after = await read(transport)
      assert(after.gaps === 0 && after.duplicates === 0, `${transport}: ${after.gaps} gaps, ${after.duplicates} duplicates`)
      // Contiguous ids: the count received equals the span of ids seen.
      assert(after.received === after.last - after.first + 1, `${transport}: received ${after.received} events for ids ${after.first}..${after.last}`)
    }
    const rotated = streamRequests.filter((r) => r.query.has('token'))
    assert(new Set(rotated.map((r) => r.query.get('token'))).size >= 2, 'the EventSource never reconnected with a new token')
    assert(rotated.slice(1).every((r) => r.query.has('lastEventId')), 'an EventSource reconnect did not resume from lastEventId')
  })

  await check('no token appears in the DOM, the page title, or the server log', async () => {
    assert(tokens.length >= 2, `expected at least 2 tokens, saw ${tokens.length}`)
    const html = await page.content()
    const text = await page.evaluate(() => document.documentElement.outerHTML + document.title + location.href)
    for (const token of tokens) {
      assert(!html.includes(token) && !text.includes(token), 'a token is in the DOM')
      assert(!serverOutput.includes(token), 'a token is in the server log')
    }
    assert(!/eyJ[\w-]+\.eyJ/.test(html), 'something JWT-shaped is in the DOM')
  })

  await check('no errors in the browser console', () => {
    assert(consoleErrors.length === 0, consoleErrors.join('\n'))
  })

  await streamEnds
}

try {
  await main()
} catch (error) {
  results.push({ name: 'test harness', ok: false })
  console.log(`  ✗ test harness: ${error?.stack ?? error}`)
} finally {
  await browser?.close().catch(() => {})
  if (server && server.exitCode === null) {
    try {
      process.kill(-server.pid, 'SIGTERM')
    } catch {}
    await Promise.race([new Promise((r) => server.once('exit', r)), sleep(3000)])
    if (server.exitCode === null && server.signalCode === null) {
      try {
        process.kill(-server.pid, 'SIGKILL')
      } catch {}
    }
  }
  finish()
}
