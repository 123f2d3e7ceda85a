// The stream's options are written once (src/core/streamOptions.ts); these tests hold the
// documentation's options table, its stream key and the derived lists to it, so a new option is
// one edit there (docs/react.md and the hook's types refer to the table instead of listing it).
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { STREAM_KEY_OPTIONS } from 'use-event-stream/core'
import { STREAM_DEFAULTS, STREAM_OPTIONS } from '../../src/core/streamOptions'

const CORE_DOC = path.resolve(__dirname, '../../docs/core.md')

/** The rows of docs/core.md's options table: option name → its default cell. */
function documentedOptions(): Map<string, string> {
  const text = readFileSync(CORE_DOC, 'utf8')
  const section = text.slice(text.indexOf('## Options'), text.indexOf('## Platform'))
  const rows = new Map<string, string>()
  for (const match of section.matchAll(/^\| `(\w+)` \| ([^|]+) \|/gm)) rows.set(match[1]!, match[2]!.trim())
  return rows
}

/** A default as the docs write it: `'auto'`, `false`, `['message']`, `0`. */
const asWritten = (value: unknown) => '`' + JSON.stringify(value).replaceAll('"', "'") + '`'

describe('stream options', () => {
  it('the docs list every option of the stream key, each with the default the stream uses', () => {
    const rows = documentedOptions()
    for (const name of STREAM_KEY_OPTIONS) expect(rows.has(name), `docs/core.md has no row for ${name}`).toBe(true)
    for (const [name, value] of Object.entries(STREAM_DEFAULTS)) expect(rows.get(name), name).toMatch(new RegExp(`^${asWritten(value).replace(/[[\]]/g, '\\$&')}`))
  })

  it("the docs' stream key names as outside the key exactly the documented options that are not in STREAM_KEY_OPTIONS", () => {
    const text = readFileSync(CORE_DOC, 'utf8')
    const section = text.slice(text.indexOf('### The stream key'), text.indexOf('## Platform'))
    // The sentence "Every option of the table above is part of the stream key, except …."
    const except = section.slice(section.indexOf('except'), section.indexOf('. ', section.indexOf('except')))
    const namedOutside = new Set(Array.from(except.matchAll(/`(\w+)`/g), (match) => match[1]!))
    const outside = [...documentedOptions().keys()].filter((name) => !(STREAM_KEY_OPTIONS as readonly string[]).includes(name))
    expect(namedOutside).toEqual(new Set(outside))
  })

  it('the stream key is every option of the table, in its order, and the defaults are the ones it gives', () => {
    expect(STREAM_KEY_OPTIONS).toEqual(Object.keys(STREAM_OPTIONS))
    expect(STREAM_DEFAULTS).toEqual(Object.fromEntries(Object.entries(STREAM_OPTIONS).filter(([, value]) => value !== undefined)))
  })
})
