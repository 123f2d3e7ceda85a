/**
 * Benchmark figures are written once, by a run: bench/README.md's results section is rendered
 * from bench/results.json by bench/report.mjs, and nothing else quotes them. This test fails when
 * the section differs from what results.json renders (someone edited it, or results.json changed
 * without `node bench/report.mjs`), and when README.md or docs/ quote a figure of the run.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { README_PATH, RESULTS_PATH, currentSection, renderResults } from '../../bench/report.mjs'

const ROOT = path.resolve(path.dirname(README_PATH), '..')

type Row = { row: string; ours: string; peer: string; ratio: string; target: string; pass: boolean | null }
type Results = { rows: Row[]; raw: Record<string, unknown> }

const readResults = (): Results => JSON.parse(readFileSync(RESULTS_PATH, 'utf8')) as Results

describe('bench/README.md figures come from bench/results.json', () => {
  it('the generated section of bench/README.md is what results.json renders', () => {
    const actual = currentSection(readFileSync(README_PATH, 'utf8')).split('\n')
    const expected = renderResults(readResults()).split('\n')
    // The first differing line, so the failure says where (run `node bench/report.mjs` to fix).
    const at = expected.findIndex((line, i) => line !== actual[i])
    const diff = at < 0 && actual.length === expected.length ? undefined : { line: at < 0 ? expected.length : at, expected: expected[at], actual: actual[at] }
    expect(diff, 'bench/README.md is stale: run `node bench/report.mjs`').toBeUndefined()
  })

  it('the section follows results.json: a changed figure renders differently', () => {
    const results = readResults()
    const changed = structuredClone(results)
    changed.rows[0]!.ours = `${changed.rows[0]!.ours} (changed)`
    expect(renderResults(changed)).not.toBe(renderResults(results))
    expect(renderResults(changed)).toContain('(changed)')
  })

  it('README.md and docs/ quote no figure of the latest run (they link to bench/README.md)', () => {
    const figures = new Set<string>()
    for (const row of readResults().rows) {
      for (const text of [row.ours, row.peer]) for (const match of text.matchAll(/\d+(?:[.,]\d+)+ ?(?:kB|MB|\/s)/g)) figures.add(match[0])
    }
    expect(figures.size).toBeGreaterThan(0)
    const docs = path.join(ROOT, 'docs')
    const files = ['README.md', ...readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
    const quoted = files.flatMap((file) => {
      const text = readFileSync(path.join(ROOT, file), 'utf8')
      return [...figures].filter((figure) => text.includes(figure)).map((figure) => `${file} quotes "${figure}"`)
    })
    expect(quoted).toEqual([])
  })
})
