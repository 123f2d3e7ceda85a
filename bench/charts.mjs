// Charts as SVG, rasterised to PNG by Chromium (playwright-core): no charting dependency.
import { writeFileSync } from 'node:fs'
import { launch } from './browser/run.mjs'

const COLORS = { ours: '#1f77b4', peer: '#d62728' }

/** Line chart: `series` = [{ name, color, points: number[] }] sampled every `stepMs`. */
export function lineChart({ title, yLabel, stepMs, series, width = 900, height = 360 }) {
  const pad = { l: 70, r: 20, t: 40, b: 50 }
  const n = Math.max(...series.map((s) => s.points.length))
  const yMax = Math.max(1, ...series.flatMap((s) => s.points)) * 1.1
  const x = (i) => pad.l + (i / Math.max(1, n - 1)) * (width - pad.l - pad.r)
  const y = (v) => height - pad.b - (v / yMax) * (height - pad.t - pad.b)
  const lines = series
    .map((s) => `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`)
    .join('')
  return frame({ title, yLabel, xLabel: 'time (s)', width, height, pad, yMax, xTicks: n, stepMs, body: lines, legend: series })
}

/** Bar histogram(s) side by side: `series` = [{ name, color, buckets: number[] }] per `stepMs`. */
export function histogram({ title, yLabel, stepMs, series, width = 900, height = 300, maxBuckets }) {
  const pad = { l: 70, r: 20, t: 40, b: 50 }
  const n = Math.min(maxBuckets ?? Infinity, Math.max(...series.map((s) => s.buckets.length)))
  const yMax = Math.max(1, ...series.flatMap((s) => s.buckets.slice(0, n))) * 1.1
  const bw = (width - pad.l - pad.r) / n
  const y = (v) => height - pad.b - (v / yMax) * (height - pad.t - pad.b)
  let bars = ''
  series.forEach((s, k) => {
    const w = bw / series.length
    for (let i = 0; i < n; i++) {
      const v = s.buckets[i] ?? 0
      if (v > 0) bars += `<rect x="${(pad.l + i * bw + k * w).toFixed(2)}" y="${y(v).toFixed(1)}" width="${Math.max(0.8, w - 0.2).toFixed(2)}" height="${(height - pad.b - y(v)).toFixed(1)}" fill="${s.color}" opacity="0.85"/>`
    }
  })
  return frame({ title, yLabel, xLabel: 'time after restart (s)', width, height, pad, yMax, xTicks: n, stepMs, body: bars, legend: series, bars: true })
}

function frame({ title, yLabel, xLabel, width, height, pad, yMax, xTicks, stepMs, body, legend, bars = false }) {
  let axes = `<line x1="${pad.l}" y1="${height - pad.b}" x2="${width - pad.r}" y2="${height - pad.b}" stroke="#333"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${height - pad.b}" stroke="#333"/>`
  for (let k = 0; k <= 4; k++) {
    const v = (yMax / 1.1) * (k / 4)
    const yy = height - pad.b - (v / yMax) * (height - pad.t - pad.b)
    axes += `<line x1="${pad.l}" y1="${yy}" x2="${width - pad.r}" y2="${yy}" stroke="#eee"/><text x="${pad.l - 6}" y="${yy + 4}" text-anchor="end" font-size="11">${Math.round(v).toLocaleString('en')}</text>`
  }
  const seconds = (xTicks * stepMs) / 1000
  const stepS = seconds > 20 ? 5 : seconds > 8 ? 2 : seconds > 3 ? 1 : 0.5
  for (let s = 0; s <= seconds + 1e-9; s += stepS) {
    const xx = pad.l + (bars ? (s * 1000) / stepMs / xTicks : (s * 1000) / stepMs / Math.max(1, xTicks - 1)) * (width - pad.l - pad.r)
    if (xx > width - pad.r + 1) break
    axes += `<text x="${xx}" y="${height - pad.b + 16}" text-anchor="middle" font-size="11">${+s.toFixed(1)}</text>`
  }
  axes += `<text x="${(width + pad.l) / 2}" y="${height - 12}" text-anchor="middle" font-size="12">${xLabel}</text>`
  axes += `<text transform="translate(16 ${(height - pad.b + pad.t) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${yLabel}</text>`
  const leg = legend.map((s, i) => `<rect x="${pad.l + 10 + i * 330}" y="${pad.t - 22}" width="12" height="12" fill="${s.color}"/><text x="${pad.l + 28 + i * 330}" y="${pad.t - 12}" font-size="12">${esc(s.name)}</text>`).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/><text x="${width / 2}" y="16" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>${axes}${body}${leg}</svg>`
}

const esc = (s) => String(s).replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c])

/** Renders each `{ file, svgs: string[] }` (stacked vertically) to a PNG. */
export async function renderPngs(charts) {
  const browser = await launch()
  try {
    const page = await browser.newPage({ deviceScaleFactor: 1 })
    for (const { file, svgs } of charts) {
      await page.setContent(`<html><body style="margin:0;background:#fff"><div id="c" style="display:inline-block">${svgs.map((s) => `<div>${s}</div>`).join('')}</div></body></html>`)
      const el = await page.$('#c')
      const png = await el.screenshot({ type: 'png' })
      writeFileSync(file, png)
    }
  } finally {
    await browser.close()
  }
}

export { COLORS }
