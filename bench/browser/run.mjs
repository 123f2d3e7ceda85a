// Browser rows: Chromium (playwright-core + scripts/chromium.mjs: CHROMIUM_PATH or /usr/bin/chromium) against bench/server.mjs.
import path from 'node:path'
import { chromium } from 'playwright-core'
import { chromiumLaunchOptions } from '../../scripts/chromium.mjs'
import { bundle, ROOT } from '../lib/build.mjs'


export async function launch() {
  // --expose-gc: the heap row forces collections before it measures.
  return chromium.launch(chromiumLaunchOptions(['--js-flags=--expose-gc']))
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function heapUsed(cdp) {
  // Twice: the first pass can leave garbage that finalizers only release on the next one.
  await cdp.send('HeapProfiler.collectGarbage')
  await cdp.send('HeapProfiler.collectGarbage')
  const { usedSize } = await cdp.send('Runtime.getHeapUsage')
  return usedSize
}

export async function runBrowserRows(server, { quick = false, log = console.log } = {}) {
  const notes = []
  let page
  try {
    page = await bundle(path.join(ROOT, 'bench/browser/page.tsx'), { external: [], minify: true, target: 'es2022' })
  } catch (error) {
    // The React entry does not build (work in progress): run the core rows without it.
    notes.push(`React entry did not bundle, hook rows skipped: ${String(error.message).split('\n').slice(0, 2).join(' ')}`)
    page = await bundle(path.join(ROOT, 'bench/browser/page.tsx'), { external: [], minify: true, target: 'es2022', stubReactEntry: true })
  }
  server.setAsset('/', '<!doctype html><meta charset="utf-8"><title>bench</title><script type="module" src="/page.js"></script>')
  server.setAsset('/page.js', page.code, 'text/javascript')
  const browser = await launch()
  const results = { notes }
  try {
    const context = await browser.newContext()
    const tab = await context.newPage()
    tab.on('pageerror', (e) => log(`  page error: ${e.message}`))
    await tab.goto(server.url + '/')
    await tab.waitForFunction(() => !!window.bench)
    let uniq = 0
    const u = (q) => `${server.url}/stream?${q}&u=${++uniq}`

    // --- throughput -------------------------------------------------------------------------
    const N = quick ? 20_000 : 100_000
    const trials = quick ? 1 : 5
    const kinds = ['bare-eventsource', 'ours-eventsource', 'bare-fetch-event-source', 'ours-fetch']
    const times = Object.fromEntries(kinds.map((k) => [k, []]))
    // Warm-up (JIT, connection setup), then interleaved trials so drift hits every client alike.
    for (const k of kinds) await tab.evaluate(([k, url]) => window.bench.throughput(k, url, 5000), [k, u('mode=burst&n=5000')])
    for (let t = 0; t < trials; t++) {
      for (const k of kinds) {
        const r = await tab.evaluate(([k, url, n]) => window.bench.throughput(k, url, n), [k, u(`mode=burst&n=${N}`), N])
        times[k].push(r.ms)
      }
    }
    const rate = (k) => N / (median(times[k]) / 1000)
    results.throughput = { events: N, trials, ms: times, eventsPerSecond: Object.fromEntries(kinds.map((k) => [k, rate(k)])) }
    log(`  throughput: ${kinds.map((k) => `${k} ${Math.round(rate(k)).toLocaleString('en')}/s`).join(', ')}`)

    // --- re-renders ---------------------------------------------------------------------------
    const RATE = 10_000
    const DURATION = quick ? 2000 : 5000
    const expected = (RATE * DURATION) / 1000
    const rr = {}
    for (const which of ['ours', 'naive']) {
      const r = await tab.evaluate(([w, url, n]) => window.bench.renders(w, url, n, 'frame'), [which, u(`mode=rate&rate=${RATE}&duration=${DURATION}`), expected])
      if (r.unavailable) {
        rr[which] = { unavailable: true }
        continue
      }
      let maxPerFrame = 0
      let fi = 0
      const perFrame = new Array(r.frames.length).fill(0)
      for (const t of r.renders) {
        while (fi + 1 < r.frames.length && r.frames[fi + 1] <= t) fi++
        perFrame[fi]++
      }
      for (const c of perFrame) maxPerFrame = Math.max(maxPerFrame, c)
      // Where the extra renders happen: mount and status changes render at once by design.
      const crowded = []
      perFrame.forEach((c, i) => c > 1 && crowded.push({ atMs: Math.round(r.frames[i] - r.start), renders: c }))
      const span = (r.frames.at(-1) - r.start) / 1000
      // Renders per second in 250 ms buckets, for the chart.
      const series = []
      for (const t of r.renders) {
        const b = Math.floor((t - r.start) / 250)
        series[b] = (series[b] ?? 0) + 4
      }
      rr[which] = {
        renders: r.renders.length,
        frames: r.frames.length,
        rendersPerFrame: r.renders.length / r.frames.length,
        maxRendersInOneFrame: maxPerFrame,
        framesWithMoreThanOneRender: crowded.length,
        crowdedFrames: crowded.slice(0, 10),
        received: r.received,
        reduced: r.final,
        lost: expected - r.final,
        seconds: span,
        rendersPerSecond: Array.from(series, (x) => x ?? 0),
      }
      log(`  renders (${which}): ${r.renders.length} renders / ${r.frames.length} frames, max ${maxPerFrame} in a frame (${crowded.length} frames > 1: ${JSON.stringify(crowded.slice(0, 5))}), reduced ${r.final}/${expected}`)
    }
    results.renders = { rate: RATE, durationMs: DURATION, expected, ...rr }

    // --- heap ---------------------------------------------------------------------------------
    const HEAP_N = quick ? 100_000 : 1_000_000
    const cdp = await context.newCDPSession(tab)
    await tab.evaluate(() => window.bench.unmount())
    // Baseline before the mount: the hook connects on mount and the burst starts at once, so a
    // baseline taken after it would include bytes in flight. Growth therefore also counts the
    // mounted component, its stream and its buffers.
    const before = await heapUsed(cdp)
    const t0 = Date.now()
    const m = await tab.evaluate((url) => window.bench.heapMount(url), u(`mode=burst&n=${HEAP_N}`))
    if (m.unavailable) results.heap = { unavailable: true }
    else {
      const w = await tab.evaluate((n) => window.bench.heapWait(n), HEAP_N)
      const after = await heapUsed(cdp)
      results.heap = { events: HEAP_N, before, after, growth: after - before, received: w.received, reduced: w.final, renders: w.renders, seconds: (Date.now() - t0) / 1000 }
      await tab.evaluate(() => window.bench.unmount())
      log(`  heap: ${(before / 1e6).toFixed(2)} MB → ${(after / 1e6).toFixed(2)} MB after ${w.received} events`)
    }

    // --- sharing ------------------------------------------------------------------------------
    const sh = {}
    for (const which of ['ours', 'naive']) {
      const channel = `share-${which}-${uniq++}`
      const url = `${server.url}/stream?mode=channel&channel=${channel}${which === 'ours' ? '&auth=1' : ''}`
      const r = await tab.evaluate(([w, url, tokenUrl]) => window.bench.sharing(w, url, 100, tokenUrl), [which, url, `${server.url}/token?ttl=60000`])
      sh[which] = r.unavailable ? { unavailable: true } : { ...r, server: server.stats(channel) }
      if (!r.unavailable) log(`  sharing (${which}): ${r.constructed} EventSource, ${r.fetches} fetch, server saw ${sh[which].server.opened} requests (peak ${sh[which].server.peak} open)`)
    }
    results.sharing = sh

    // --- tabs ---------------------------------------------------------------------------------
    results.tabs = await runTabsRow(browser, server, page.code, { log })
  } finally {
    await browser.close()
  }
  return results
}

/**
 * 10 tabs (pages of one context) of an app with one stream, each under its own TokenProvider,
 * with `crossTab` and without: connections and token requests at the server. The page itself is
 * answered by Playwright, not the server: over HTTP/1.1 Chromium gives a host six connections for
 * all its tabs, and the pages must load even when the streams hold them all.
 */
export async function runTabsRow(browser, server, pageCode, { log = console.log } = {}) {
  let uniq = 0
  const tabs = {}
  const TABS = 10
  for (const which of ['ours', 'naive']) {
    const channel = `tabs-${which}-${++uniq}-${Date.now()}`
    const url = `${server.url}/stream?mode=channel&channel=${channel}&auth=1`
    const ctx = await browser.newContext()
    await ctx.route(`${server.url}/`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><meta charset="utf-8"><title>bench</title><script type="module" src="/page.js"></script>' }))
    await ctx.route(`${server.url}/page.js`, (route) => route.fulfill({ contentType: 'text/javascript', body: pageCode }))
    const tokensBefore = server.counters.tokens
    const pages = []
    for (let i = 0; i < TABS; i++) {
      const p = await ctx.newPage()
      await p.goto(server.url + '/')
      await p.waitForFunction(() => !!window.bench)
      const r = await p.evaluate(([u, t, s]) => window.bench.tab(u, t, s), [url, `${server.url}/token?ttl=60000`, which === 'ours' ? 'bench-user' : null])
      if (r.unavailable) break
      pages.push(p)
    }
    if (pages.length < TABS) {
      tabs[which] = { unavailable: true }
      await ctx.close()
      continue
    }
    await new Promise((r) => setTimeout(r, 1500))
    const published = 20
    for (let i = 0; i < published; i++) {
      server.publish(channel)
      await new Promise((r) => setTimeout(r, 20))
    }
    await new Promise((r) => setTimeout(r, 1000))
    const states = await Promise.all(pages.map((p) => p.evaluate(() => window.bench.tabState())))
    tabs[which] = {
      tabs: TABS,
      published,
      server: server.stats(channel),
      tokenRequests: server.counters.tokens - tokensBefore,
      receiving: states.filter((s) => s.received === published).length,
      roles: states.map((s) => s.tab),
    }
    log(`  tabs (${which}): ${JSON.stringify({ ...tabs[which], roles: undefined })} roles ${states.map((s) => s.tab).join(',')}`)
    await ctx.close()
  }
  return tabs
}
